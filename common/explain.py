"""``python -m common.explain --model RUN/model.keras --out DIR IMAGE...``:
Grad-CAM overlays (jet over the image) of the predicted class, or of
``--class NAME``, for an image classifier the toolkit saved. A model with
inputs besides the image (AG-Net's regions) gets them computed from each
image file as its trainer did, and Grad-CAM reads its image branch
(``common.model_inputs``)."""

import os

from common.errors import named_by, printable
from common.commandline.model_command import ModelCommand


def map_path(picture):
    """Where ``--save-maps`` writes the map of a picture: NAME_gradcam.npy."""
    return os.path.splitext(picture)[0] + ".npy"


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
                            help="layer for Grad-CAM (default: the last 4-D layer, or the "
                                 "image branch's of a model with other inputs)")
        parser.add_argument("--save-maps", action="store_true",
                            help="also write each map as NAME_gradcam.npy: (H, W) float32 in "
                                 "[0, 1] at the model's input size")

    def check(self, args, classes):
        if args.class_name is not None and (classes is None or args.class_name not in classes):
            raise ValueError(f"--class: '{args.class_name}' is not one of the model's classes "
                             f"{classes} (from the classes.json beside the model)")
        existing = [p for p in map(map_path, args.outputs) if os.path.exists(p)]
        if args.save_maps and existing and not args.overwrite:
            raise ValueError(f"--out: {len(existing)} map file(s) exist already, e.g. "
                             f"'{existing[0]}'; pass --overwrite to replace them")
        from common.model_inputs import maker_of_file, run_settings
        with named_by("--model", "path"):  # refused here, before TensorFlow loads
            self.maker = maker_of_file(args.model)
        self.settings = run_settings(args.model) if self.maker else {}

    def check_model(self, args, model):
        from common.model_inputs import ImageClassifier
        try:
            self.classifier = ImageClassifier(model, self.maker, self.settings)
        except ValueError as error:
            raise ValueError(f"--model: '{args.model}': {error}; attention-explain explains "
                             "image classifiers") from None

    def run(self, args, model, classes):
        return explain(self.classifier, args.images, args.outputs, classes, args.class_name,
                       args.layer, args.save_maps, args.verbose)


def explain(model, paths, outputs, classes=None, class_name=None, layer=None,
            save_maps=False, verbose=1):
    """Writes one picture per image (``outputs``: their paths): the Grad-CAM
    overlay of the predicted class, or of ``class_name``, titled with the
    prediction and its probability (with ``save_maps`` the map beside it,
    ``.npy``); returns the predicted class indices. ``model``: a Keras
    classifier or a ``common.model_inputs.ImageClassifier``."""
    import numpy as np
    import tensorflow as tf

    from common.data.pipeline import decode_image
    from common.io import atomic_write
    from common.model_inputs import ImageClassifier
    from common.commandline.plots import save_figure, single_figure
    classifier = model if isinstance(model, ImageClassifier) else ImageClassifier(model)
    images = tf.stack([decode_image(p, classifier.image_size) for p in paths])
    other = {name: tf.constant(value) for name, value in
             classifier.file_inputs(paths, verbose).items()}
    probabilities = classifier.probabilities(images, other).numpy()
    predicted = probabilities.argmax(-1)
    target = predicted if class_name is None else np.full(len(paths),
                                                          classes.index(class_name))
    heatmaps = classifier.map_source("gradcam", layer)(
        images, other, class_index=tf.constant(target, tf.int32)).numpy()
    name = (lambda i: classes[i]) if classes else str
    for path, out, image, heat, probs, p, t in zip(paths, outputs, images.numpy(), heatmaps,
                                                   probabilities, predicted, target):
        os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
        title = (f"{os.path.basename(path)}\npredicted: {name(p)} ({probs[p]:.2f})\n"
                 f"Grad-CAM of: {name(t)} ({probs[t]:.2f})")
        save_figure(out, single_figure(image, title, heatmap=heat))
        if save_maps:
            atomic_write(map_path(out), lambda tmp, heat=heat: np.save(tmp, heat))
        print(printable(f"{path}: predicted {name(p)} ({probs[p]:.3f}); map of {name(t)} -> "
                        f"{out}"))
    return predicted


def main(argv=None):
    return Explain().main(argv)


if __name__ == "__main__":
    main()
