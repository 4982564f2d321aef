"""What composing guides costs: the CAMs are computed once per step and
shared, so adding HNC to FSA or to occlusion should cost almost nothing, and
FSA on a large backbone little over its plain cross-entropy step. The sides
alternate (A B A B ...) after a warm-up; each ratio is the median and the
min-max over the rounds.

    python bench/guide_costs.py [--image-size 128] [--batch 16] [--rounds 5]

- FSA + HNC / FSA (tiny backbone): goal <= 1.05
- occlusion + HNC / occlusion (p=1, tiny backbone): goal <= 1.05
- FSA on ResNet50 / cross-entropy on ResNet50: goal <= 1.1
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from bench.timing import alternate, describe, train_step_seconds  # noqa: E402
from common.backbones import build_backbone  # noqa: E402
from common.classifier import GuidedClassifier, build_cam_classifier  # noqa: E402
from common.guidance import HomogeneousNegativeCam  # noqa: E402
from distraction.guide import GradCamOcclusion  # noqa: E402
from fsa.guide import ForcedSpatialAttention  # noqa: E402

CLASSES = 10
PAIRS = [("FSA + HNC", "FSA", 1.05), ("occlusion + HNC", "occlusion", 1.05),
         ("FSA on ResNet50", "CE on ResNet50", 1.1)]


def _masks(size):
    masks = np.zeros((CLASSES, 1, size, size), np.float32)
    for c in range(CLASSES):
        masks[c, 0, (c % 4) * size // 4:(c % 4 + 1) * size // 4] = 1.0
    return masks, np.ones(CLASSES, np.int32)


def sides(size, batch):
    """name -> (model, dataset): the networks of a pair share nothing but
    their architecture and seed."""
    shape = (size, size, 3)
    rng = np.random.default_rng(0)
    data = tf.data.Dataset.from_tensors(
        (rng.random((batch, *shape), np.float32), rng.integers(0, CLASSES, batch))).repeat()
    masks, counts = _masks(size)

    def model(backbone, *guides):
        keras.utils.set_random_seed(0)
        network = build_cam_classifier(build_backbone(backbone, shape), CLASSES)
        guided = GuidedClassifier(network, guides=list(guides))
        guided.compile(keras.optimizers.Adam(1e-4), "sparse_categorical_crossentropy")
        return guided

    fsa = lambda: ForcedSpatialAttention(masks, counts, 1.0, 0.05)  # noqa: E731
    hnc = lambda: HomogeneousNegativeCam(0.07, 3)  # noqa: E731
    occlusion = lambda: GradCamOcclusion(p=1.0)  # noqa: E731
    built = {"FSA + HNC": model("tiny", fsa(), hnc()), "FSA": model("tiny", fsa()),
             "occlusion + HNC": model("tiny", occlusion(), hnc()),
             "occlusion": model("tiny", occlusion()),
             "FSA on ResNet50": model("resnet50", fsa()),
             "CE on ResNet50": model("resnet50")}
    return {name: (m, data) for name, m in built.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    built = sides(args.image_size, args.batch)
    for numerator, denominator, goal in PAIRS:
        measures = {name: train_step_seconds(*built[name]) for name in (numerator, denominator)}
        times = alternate(measures, rounds=args.rounds)
        print(describe(times, numerator, denominator, goal), flush=True)


if __name__ == "__main__":
    main()
