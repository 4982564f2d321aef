"""``python -m common.explain --model RUN/model.keras --out DIR IMAGE...``:
Grad-CAM overlays (jet over the image) of the predicted class, or of
``--class NAME``, for a single-input classifier the toolkit saved."""

import os

from common.errors import printable
from common.training.model_command import ModelCommand


class Explain(ModelCommand):
    script, module = "attention-explain", "common.explain"
    description = __doc__
    suffix = "_gradcam.png"

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
        return explain(model, args.images, args.outputs, classes, args.class_name, args.layer)


def explain(model, paths, outputs, classes=None, class_name=None, layer=None):
    """Writes one picture per image (``outputs``: their paths): the Grad-CAM
    overlay of the predicted class, or of ``class_name``, titled with the
    prediction and its probability; returns the predicted class indices."""
    import numpy as np
    import tensorflow as tf

    from common.cam import GradCAM
    from common.data.pipeline import decode_image
    from common.training.plots import save_figure, single_figure
    size = model.inputs[0].shape[1:3]
    images = tf.stack([decode_image(p, size) for p in paths])
    probabilities = model.predict(images, verbose=0)
    predicted = probabilities.argmax(-1)
    target = predicted if class_name is None else np.full(len(paths),
                                                          classes.index(class_name))
    heatmaps = GradCAM(model, layer)(images, class_index=target).numpy()
    name = (lambda i: classes[i]) if classes else str
    for path, out, image, heat, probs, p, t in zip(paths, outputs, images.numpy(), heatmaps,
                                                   probabilities, predicted, target):
        os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
        title = (f"{os.path.basename(path)}\npredicted: {name(p)} ({probs[p]:.2f})\n"
                 f"Grad-CAM of: {name(t)} ({probs[t]:.2f})")
        save_figure(out, single_figure(image, title, heatmap=heat))
        print(printable(f"{path}: predicted {name(p)} ({probs[p]:.3f}); map of {name(t)} -> "
                        f"{out}"))
    return predicted


def main(argv=None):
    return Explain().main(argv)


if __name__ == "__main__":
    main()
