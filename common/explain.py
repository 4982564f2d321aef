"""``python -m common.explain --model RUN/model.keras --out DIR IMAGE...``:
Grad-CAM overlays (jet over the image) of the predicted class, or of
``--class NAME``, for a single-input classifier the toolkit saved."""

import os

from common.training.model_command import ModelCommand


class Explain(ModelCommand):
    prog = "python -m common.explain"
    description = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, help="folder for the overlay PNGs")
        parser.add_argument("--class", dest="class_name", default=None,
                            help="explain this class (a name from classes.json) instead "
                                 "of the predicted one")
        parser.add_argument("--layer", default=None,
                            help="layer for Grad-CAM (default: the last 4-D layer)")

    def check(self, args, classes):
        if args.class_name is not None and (classes is None or args.class_name not in classes):
            raise ValueError(f"--class: '{args.class_name}' is not one of the model's classes "
                             f"{classes} (from the classes.json beside the model)")

    def check_model(self, args, model):
        if len(model.inputs) != 1:
            raise ValueError(f"--model: '{args.model}' takes {len(model.inputs)} inputs; "
                             "explain handles single-input classifiers")

    def run(self, args, model, classes):
        return explain(model, args.images, args.out, classes, args.class_name, args.layer)


def explain(model, paths, out, classes=None, class_name=None, layer=None):
    """Writes ``out/<image name>_gradcam.png`` for each image; returns the
    predicted class indices."""
    import numpy as np
    import tensorflow as tf

    from common.cam import GradCAM
    from common.data.pipeline import decode_image
    from common.training.plots import overlay, save_rgb
    size = model.inputs[0].shape[1:3]
    images = tf.stack([decode_image(p, size) for p in paths])
    predicted = model.predict(images, verbose=0).argmax(-1)
    target = predicted if class_name is None else np.full(len(paths),
                                                          classes.index(class_name))
    heatmaps = GradCAM(model, layer)(images, class_index=target).numpy()
    os.makedirs(out, exist_ok=True)
    for path, image, heat, p, t in zip(paths, images.numpy(), heatmaps, predicted, target):
        name = os.path.splitext(os.path.basename(path))[0]
        save_rgb(os.path.join(out, f"{name}_gradcam.png"), overlay(image, heat))
        label = classes[p] if classes else p
        print(f"{path}: predicted {label}; map of {classes[t] if classes else t}")
    return predicted


def main(argv=None):
    return Explain().main(argv)


if __name__ == "__main__":
    main()
