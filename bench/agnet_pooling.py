"""AG-Net's region pooling: the gather-free bilinear sampling (two weight
matrices and matmuls, XLA- and LiteRT-friendly) against
tf.image.crop_and_resize, in a compiled AG-Net training step.

    python bench/agnet_pooling.py [--backbone resnet50] [--image-size 224] [--batch 8]

Prints the median step-time ratio new / crop_and_resize with its spread
(alternating rounds) and the largest difference of the pooled features.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from agnet import layers  # noqa: E402
from agnet.model import build_agnet  # noqa: E402
from bench.timing import alternate, describe, train_step_seconds  # noqa: E402
from common.backbones import build_backbone  # noqa: E402


class CropAndResizePooling(layers.RegionPooling):
    """The previous implementation: tf.image.crop_and_resize."""

    def call(self, features, boxes):
        batch = tf.shape(boxes)[0]
        whole = tf.tile(tf.constant([[[0.0, 0.0, 1.0, 1.0]]], boxes.dtype), [batch, 1, 1])
        boxes = tf.concat([boxes, whole], axis=1)
        count = tf.shape(boxes)[1]
        pooled = tf.image.crop_and_resize(tf.cast(features, tf.float32),
                                          tf.reshape(tf.cast(boxes, tf.float32), (-1, 4)),
                                          tf.repeat(tf.range(batch), count),
                                          (self.pool_size, self.pool_size))
        return tf.reshape(tf.cast(pooled, features.dtype),
                          (batch, count, self.pool_size, self.pool_size, features.shape[-1]))


def build(pooling, args):
    original = layers.RegionPooling
    layers.RegionPooling = pooling
    import agnet.model
    agnet.model.RegionPooling = pooling
    try:
        keras.utils.set_random_seed(0)
        shape = (args.image_size, args.image_size, 3)
        model = build_agnet(build_backbone(args.backbone, shape), 10)
        model.compile(keras.optimizers.SGD(1e-5, momentum=0.99),
                      "sparse_categorical_crossentropy")
        return model
    finally:
        layers.RegionPooling = agnet.model.RegionPooling = original


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backbone", default="resnet50")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    images = rng.random((args.batch, args.image_size, args.image_size, 3)).astype("float32")
    corners = np.sort(rng.random((args.batch, 36, 2, 2)), axis=2)
    regions = corners.transpose(0, 1, 3, 2).reshape(args.batch, 36, 4)[..., [0, 2, 1, 3]]
    labels = rng.integers(0, 10, args.batch)
    data = tf.data.Dataset.from_tensors(({"image": images, "regions": regions.astype("float32")},
                                         labels)).repeat()
    features = tf.constant(rng.normal(size=(args.batch, 7, 7, 64)).astype("float32"))
    boxes = tf.constant(regions.astype("float32"))
    difference = np.abs(layers.RegionPooling(7)(features, boxes).numpy()
                        - CropAndResizePooling(7)(features, boxes).numpy()).max()
    sides = {"matmul pooling": train_step_seconds(build(layers.RegionPooling, args), data),
             "crop_and_resize": train_step_seconds(build(CropAndResizePooling, args), data)}
    times = alternate(sides, rounds=args.rounds)
    print(f"backbone={args.backbone} size={args.image_size} batch={args.batch}")
    print("step " + describe(times, "matmul pooling", "crop_and_resize", goal=1.0))
    print(f"largest difference of the pooled features: {difference:.2e}")


if __name__ == "__main__":
    main()
