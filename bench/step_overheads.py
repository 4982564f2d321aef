"""Training-step cost of each method over the plain classifier it extends,
same backbone, size, batch and machine; the two sides alternate (A B A B
...) after a warm-up and each ratio is reported as median and min-max.

    python bench/step_overheads.py [--backbone resnet50] [--image-size 128] [--rounds 5]

- distraction, p=1 (Grad-CAM + occlusion every batch) / p=0: goal <= 1.3
- FAM / its CAM baseline (GAP -> Dense): goal <= 1.2
- AG-Net / the plain GAP classifier: goal <= 2.0
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from agnet.model import build_agnet  # noqa: E402
from bench.timing import alternate, describe, train_step_seconds  # noqa: E402
from common.backbones import build_backbone  # noqa: E402
from common.classifier import GuidedClassifier, build_cam_classifier  # noqa: E402
from distraction.model import build_distraction_model  # noqa: E402
from fam.model import build_fam  # noqa: E402

CLASSES = 10
GOALS = {"distraction p=1 / p=0": 1.3, "FAM / CAM": 1.2, "AG-Net / GAP": 2.0}


def _compiled(model, optimizer=None):
    model.compile(optimizer or keras.optimizers.Adam(1e-4), "sparse_categorical_crossentropy")
    return model


def sides(backbone, size, batch):
    """name -> (model, dataset) of every side compared."""
    keras.utils.set_random_seed(0)
    shape = (size, size, 3)
    rng = np.random.default_rng(0)
    images = rng.random((batch, *shape), np.float32)
    labels = rng.integers(0, CLASSES, batch)
    plain_data = tf.data.Dataset.from_tensors((images, labels)).repeat()
    # [y1, x1, y2, x2] with y1 <= y2, x1 <= x2: two random corners sorted
    regions = np.sort(rng.random((batch, 36, 2, 2), np.float32), axis=2).reshape(batch, 36, 4)
    agnet_data = tf.data.Dataset.from_tensors(
        ({"image": images, "regions": regions}, labels)).repeat()
    make = lambda: build_backbone(backbone, shape)  # noqa: E731
    return {
        "plain": (_compiled(GuidedClassifier(build_cam_classifier(make(), CLASSES))),
                  plain_data),
        "distraction p=0": (_compiled(build_distraction_model(make(), CLASSES, p=0.0)),
                            plain_data),
        "distraction p=1": (_compiled(build_distraction_model(make(), CLASSES, p=1.0)),
                            plain_data),
        "FAM": (_compiled(build_fam(make(), CLASSES)), plain_data),
        "AG-Net": (_compiled(build_agnet(make(), CLASSES)), agnet_data),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backbone", default="resnet50")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3, help="steps per measurement")
    args = parser.parse_args()
    built = sides(args.backbone, args.image_size, args.batch)
    measures = {name: train_step_seconds(model, data, args.steps)
                for name, (model, data) in built.items()}
    times = alternate(measures, rounds=args.rounds)
    times["CAM"], times["GAP"] = times["plain"], times["plain"]
    print(f"backbone={args.backbone} size={args.image_size} batch={args.batch} "
          f"cores={os.cpu_count()} device="
          f"{'GPU' if tf.config.list_physical_devices('GPU') else 'CPU'}")
    for label, (a, b) in {"distraction p=1 / p=0": ("distraction p=1", "distraction p=0"),
                          "FAM / CAM": ("FAM", "CAM"),
                          "AG-Net / GAP": ("AG-Net", "GAP")}.items():
        print(describe(times, a, b, goal=GOALS[label]))


if __name__ == "__main__":
    main()
