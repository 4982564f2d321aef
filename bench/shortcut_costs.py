"""What the shortcut guides cost per training step against the plain step on
the same network and batch: the input-gradient guide differentiates the
input gradient again (a double backward pass), counterexamples only blend
the batch. The sides alternate (A B A B ...) after a warm-up; each ratio is
the median and the min-max over the rounds.

    python bench/shortcut_costs.py [--image-size 64] [--batch 32] [--rounds 5]

- input gradient / plain: goal <= 2.5
- counterexamples / plain: goal <= 1.2
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import common  # noqa: E402
from bench.timing import alternate, describe, train_step_seconds  # noqa: E402
from common.backbones import build_backbone  # noqa: E402

CLASSES = 10
GUIDES = {"plain": list, "input gradient": lambda: [common.InputGradientPenalty()],
          "counterexamples": lambda: [common.Counterexamples()]}


def sides(backbone, size, batch):
    shape = (size, size, 3)
    rng = np.random.default_rng(0)
    ignore = np.zeros((batch, size, size), np.float32)
    ignore[:, : size // 4, : size // 4] = 1.0
    data = tf.data.Dataset.from_tensors(
        ({"image": rng.random((batch, *shape), np.float32), "ignore": ignore},
         rng.integers(0, CLASSES, batch))).repeat()
    built = {}
    for name, guides in GUIDES.items():
        keras.utils.set_random_seed(0)
        network = common.build_cam_classifier(build_backbone(backbone, shape), CLASSES)
        model = common.GuidedClassifier(network, guides=guides())
        model.compile(keras.optimizers.Adam(1e-4), "sparse_categorical_crossentropy")
        built[name] = train_step_seconds(model, data)
    return built


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", default="tiny,resnet50")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    for backbone in args.backbones.split(","):
        times = alternate(sides(backbone, args.image_size, args.batch), rounds=args.rounds)
        for name, goal in (("input gradient", 2.5), ("counterexamples", 1.2)):
            print(f"{backbone}, {args.image_size} px, batch {args.batch}: "
                  + describe(times, name, "plain", goal), flush=True)


if __name__ == "__main__":
    main()
