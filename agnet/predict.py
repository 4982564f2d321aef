"""``python -m agnet.predict --model RUN/model.keras [--out DIR] IMAGE...``:
computes each image's regions, prints the top-5 classes with probabilities,
and with --out writes the image with its strongest regions drawn (the region
importance weights of eq. 3, as in the paper's Fig. 10)."""

import os

from common.errors import printable
from common.io import read_yaml
from common.training.model_command import ModelCommand


def region_weights(model, inputs):
    """(B, R + 1) region importance weights w of eq. 3 (last: whole image)."""
    import keras
    from keras import ops
    layer = model.get_layer("region_importance")
    alpha = keras.Model(model.inputs, layer.input)(inputs)
    return ops.convert_to_numpy(layer.region_weights(alpha)[..., 0])


RANK_COLOURS = ("red", "orange", "deepskyblue")


def region_picture(image, boxes, weights, title, strongest=3):
    """A figure of the image with its ``strongest`` regions (of eq. 3's
    weights) drawn, thicker for more weight, and a legend of their ranks."""
    import numpy as np

    from common.training.plots import single_figure
    height, width = image.shape[:2]
    order = np.argsort(-weights[:len(boxes)])[:strongest]
    drawn, legend = [], []
    for rank, r in enumerate(order):
        y1, x1, y2, x2 = boxes[r]
        colour = RANK_COLOURS[rank % len(RANK_COLOURS)]
        drawn.append((x1 * (width - 1), y1 * (height - 1), x2 * (width - 1),
                      y2 * (height - 1), colour, 3 - rank))
        legend.append((colour, f"region ranked {rank + 1} (weight {weights[r]:.3f})"))
    return single_figure(image, title, boxes=drawn, legend=legend)


class Predict(ModelCommand):
    script, module = "agnet-predict", "agnet.predict"
    description = __doc__
    suffix = "_regions.png"

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
        return predict(model, args.images, classes, getattr(args, "outputs", None), seed or 0,
                       num_primary)


def predict(model, paths, classes=None, outputs=None, seed=0, num_primary=None):
    """Prints the top-5 classes of each image; with ``outputs`` (one PNG path
    per image) draws its strongest regions."""
    import numpy as np

    from agnet.cache import load_rgb
    from agnet.gmm import warm_up
    from agnet.regions import batch_regions, num_regions
    from common.training.plots import save_figure
    size = model.input["image"].shape[1]
    count = model.input["regions"].shape[1]
    if num_primary is None:  # the k with k + k(k-1)/2 = R
        num_primary = next(k for k in range(1, 64) if num_regions(k) == count)
    images = np.stack([load_rgb(p, size) for p in paths])
    warm_up()  # one line on stderr where numba's cache is cold (10 to 25 s of compiling)
    regions = batch_regions(images, num_primary, seed)
    inputs = {"image": images.astype("float32") / 255.0, "regions": regions}
    probabilities = model.predict(inputs, verbose=0)
    weights = region_weights(model, inputs) if outputs else None
    for i, path in enumerate(paths):
        top = np.argsort(-probabilities[i])[:5]
        names = [classes[c] if classes else str(c) for c in top]
        ranked = ", ".join(f"{n} {probabilities[i, c]:.3f}" for n, c in zip(names, top))
        print(printable(f"{path}: {ranked}"))
        if outputs:
            os.makedirs(os.path.dirname(outputs[i]) or ".", exist_ok=True)
            title = f"{os.path.basename(path)}\ntop-5: {ranked}"
            save_figure(outputs[i], region_picture(images[i], regions[i], weights[i], title))
    return probabilities


def main(argv=None):
    return Predict().main(argv)


if __name__ == "__main__":
    main()
