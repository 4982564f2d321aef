"""``python -m agnet.predict --model RUN/model.keras [--out DIR] IMAGE...``:
computes each image's regions, prints the top-5 classes with probabilities,
and with --out writes the image with its strongest regions drawn (the region
importance weights of eq. 3, as in the paper's Fig. 10).

The model sees what its trainer gave it: the image decoded by the data
pipeline and the regions of its file (``agnet.inputs.RegionInputs``, as
``attention-explain`` and ``attention-evaluate`` feed it too)."""

import os

from common.errors import printable
from common.commandline.model_command import ModelCommand


RANK_COLOURS = ("red", "orange", "deepskyblue")


def region_picture(image, boxes, weights, title, strongest=3):
    """A figure of the image with its ``strongest`` regions (of eq. 3's
    weights) drawn, thicker for more weight, and a legend of their ranks."""
    import numpy as np

    from common.commandline.plots import single_figure
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
        from common.model_inputs import run_settings
        settings = run_settings(args.model)
        if args.seed is not None:
            settings["seed"] = args.seed
        return predict(model, args.images, classes, getattr(args, "outputs", None), settings,
                       args.verbose)


def predict(model, paths, classes=None, outputs=None, settings=None, verbose=1):
    """Prints the top-5 classes of each image; with ``outputs`` (one PNG path
    per image) draws its strongest regions. ``settings``: the run's
    config.yaml (seed, num_primary, region_cache), {} for the defaults.
    Returns the probabilities (N, K)."""
    import numpy as np
    import tensorflow as tf

    from agnet.inputs import RegionInputs, region_weights
    from common.data.pipeline import decode_image
    from common.commandline.plots import save_figure
    maker = RegionInputs(model, settings or {})
    images = np.stack([decode_image(p, (maker.size, maker.size)).numpy() for p in paths])
    inputs = {"image": images, **maker.file_inputs(paths, verbose)}
    probabilities = model.predict(inputs, verbose=0)
    weights = np.asarray(region_weights(model, {k: tf.constant(v) for k, v in inputs.items()})
                         ) if outputs else None
    for i, path in enumerate(paths):
        top = np.argsort(-probabilities[i])[:5]
        names = [classes[c] if classes else str(c) for c in top]
        ranked = ", ".join(f"{n} {probabilities[i, c]:.3f}" for n, c in zip(names, top))
        print(printable(f"{path}: {ranked}"))
        if outputs:
            os.makedirs(os.path.dirname(outputs[i]) or ".", exist_ok=True)
            title = f"{os.path.basename(path)}\ntop-5: {ranked}"
            save_figure(outputs[i], region_picture(images[i], inputs["regions"][i], weights[i],
                                                   title))
    return probabilities


def main(argv=None):
    return Predict().main(argv)


if __name__ == "__main__":
    main()
