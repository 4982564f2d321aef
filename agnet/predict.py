"""``python -m agnet.predict --model RUN/model.keras [--out DIR] IMAGE...``:
computes each image's regions, prints the top-5 classes with probabilities,
and with --out writes the image with its strongest regions drawn (the region
importance weights of eq. 3, as in the paper's Fig. 10)."""

import os

from common.io import read_yaml
from common.training.model_command import ModelCommand


def region_weights(model, inputs):
    """(B, R + 1) region importance weights w of eq. 3 (last: whole image)."""
    import keras
    from keras import ops
    layer = model.get_layer("region_importance")
    alpha = keras.Model(model.inputs, layer.input)(inputs)
    return ops.convert_to_numpy(layer.region_weights(alpha)[..., 0])


def draw(image, boxes, weights, strongest=3):
    """uint8 RGB image with the ``strongest`` regions drawn, thicker for more weight."""
    import cv2
    import numpy as np
    canvas = np.ascontiguousarray(image.copy())
    height, width = canvas.shape[:2]
    order = np.argsort(-weights[:len(boxes)])[:strongest]
    colours = [(255, 60, 60), (255, 200, 0), (60, 200, 255)]
    for rank, r in enumerate(order):
        y1, x1, y2, x2 = boxes[r]
        cv2.rectangle(canvas, (int(x1 * (width - 1)), int(y1 * (height - 1))),
                      (int(x2 * (width - 1)), int(y2 * (height - 1))),
                      colours[rank % 3], max(1, 3 - rank))
    return canvas


class Predict(ModelCommand):
    prog = "python -m agnet.predict"
    description = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--out", default=None,
                            help="folder for images with regions drawn")
        parser.add_argument("--seed", type=int, default=None,
                            help="GMM seed (default: the run's config.yaml, else 0)")

    def check_model(self, args, model):
        if not isinstance(model.input, dict) or "regions" not in model.input:
            raise ValueError(f"--model: '{args.model}' is not an AG-Net model (no 'regions' "
                             "input)")

    def run(self, args, model, classes):
        seed, num_primary = args.seed, None
        config = os.path.join(os.path.dirname(os.path.abspath(args.model)), "config.yaml")
        if os.path.isfile(config):
            saved = read_yaml(config)
            seed = saved.get("seed", 0) if seed is None else seed
            num_primary = saved.get("num_primary")
        return predict(model, args.images, classes, args.out, seed or 0, num_primary)


def predict(model, paths, classes=None, out=None, seed=0, num_primary=None):
    import numpy as np

    from agnet.cache import load_rgb
    from agnet.regions import num_regions, semantic_regions
    size = model.input["image"].shape[1]
    count = model.input["regions"].shape[1]
    if num_primary is None:  # the k with k + k(k-1)/2 = R
        num_primary = next(k for k in range(1, 64) if num_regions(k) == count)
    images = np.stack([load_rgb(p, size) for p in paths])
    regions = np.stack([semantic_regions(im, num_primary, seed) for im in images])
    inputs = {"image": images.astype("float32") / 255.0, "regions": regions}
    probabilities = model.predict(inputs, verbose=0)
    weights = region_weights(model, inputs) if out else None
    for i, path in enumerate(paths):
        top = np.argsort(-probabilities[i])[:5]
        names = [classes[c] if classes else str(c) for c in top]
        print(f"{path}: " + ", ".join(f"{n} {probabilities[i, c]:.3f}"
                                       for n, c in zip(names, top)))
        if out:
            from common.training.plots import save_rgb
            os.makedirs(out, exist_ok=True)
            name = os.path.splitext(os.path.basename(path))[0]
            save_rgb(os.path.join(out, f"{name}_regions.png"),
                     draw(images[i], regions[i], weights[i]))
    return probabilities


def main(argv=None):
    return Predict().main(argv)


if __name__ == "__main__":
    main()
