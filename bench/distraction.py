"""Cost of distraction training.

    python bench/distraction.py [--backbone resnet50] [--image-size 128] [--batch 16]

Prints (1) the time of a compiled training step with p=1 (Grad-CAM +
occlusion every batch) over one with p=0, same model, batch and machine;
goal at most 1.3; (2) the time of the batched in-graph Grad-CAM + occlusion
over the reference implementation's per-image eager loop, and checks that
both occlude the same pixels. Both sides alternate (A B A B ...) and each
ratio is the median, with min and max, over the rounds.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from bench.gradcam import per_image_loop  # noqa: E402
from bench.timing import alternate, describe, train_step_seconds  # noqa: E402
from common.backbones import build_backbone  # noqa: E402
from distraction.model import build_distraction_model  # noqa: E402


def reference_loop(model, images, labels, threshold):
    """Per image: the reference Grad-CAM loop, then NumPy masking (the paper's code)."""
    heatmaps = per_image_loop(model.gradcam, images, labels)
    return np.where(heatmaps[..., None] > threshold, 0.0, images)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backbone", default="resnet50")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    shape = (args.image_size, args.image_size, 3)
    images = np.random.rand(args.batch, *shape).astype("float32")
    labels = np.random.randint(0, 10, args.batch)
    data = tf.data.Dataset.from_tensors((images, labels)).repeat()
    steps = {}
    for p in (0.0, 1.0):
        model = build_distraction_model(build_backbone(args.backbone, shape), 10, p=p)
        model.compile(keras.optimizers.Adam(5e-5), "sparse_categorical_crossentropy")
        steps[f"p={p:g} step"] = train_step_seconds(model, data, args.steps)
    times = alternate(steps, rounds=args.rounds)

    distract = tf.function(model.distract)
    distract(images, labels)
    found = {}

    def batched():
        found["batched"] = distract(images, labels).numpy()

    def looped():
        found["loop"] = reference_loop(model, images, labels, model.threshold)
    occlusion = alternate({"batched": batched, "loop": looped}, rounds=max(2, args.rounds // 2))

    print(f"backbone={args.backbone} size={args.image_size} batch={args.batch} "
          f"device={'GPU' if tf.config.list_physical_devices('GPU') else 'CPU'}")
    print(describe(times, "p=1 step", "p=0 step", goal=1.3))
    print("occlusion " + describe(occlusion, "batched", "loop"))
    differ = np.mean(np.any(found["batched"] != found["loop"], axis=-1))
    print(f"pixels occluded differently: {differ:.2e}")


if __name__ == "__main__":
    main()
