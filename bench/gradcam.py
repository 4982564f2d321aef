"""Batched in-graph GradCAM vs the per-image eager loop of the reference
implementations (Keras.io example, the distraction paper's code).

    python bench/gradcam.py [--backbone mobilenet] [--image-size 128] [--batch 32]

Prints both times, their ratio, and the largest difference between the maps.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from common.backbones import build_backbone  # noqa: E402
from bench.timing import alternate, describe  # noqa: E402
from common.cam import GradCAM  # noqa: E402


def classifier(backbone, size, num_classes=10):
    features = build_backbone(backbone, (size, size, 3))
    inputs = keras.Input((size, size, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(features(inputs))
    return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(pooled))


def per_image_loop(cam, images, classes):
    """One tape per image, eager, NumPy post-processing: the reference way."""
    maps = []
    for image, c in zip(images, classes):
        with tf.GradientTape() as tape:
            feature, head = cam.tapped(image[None], training=False)
            tape.watch(feature)
            score = cam.scores(head)[0, c]
        grads = tape.gradient(score, feature)[0].numpy()
        weights = grads.mean(axis=(0, 1))
        heat = np.maximum((feature[0].numpy() * weights).sum(-1), 0)
        heat = tf.image.resize(heat[..., None], image.shape[:2]).numpy()[..., 0]
        span = heat.max() - heat.min()
        maps.append((heat - heat.min()) / span if span > 0 else np.zeros_like(heat))
    return np.stack(maps)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backbone", default="mobilenet")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5, help="alternating rounds")
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    model = classifier(args.backbone, args.image_size)
    cam = GradCAM(model)
    images = np.random.rand(args.batch, args.image_size, args.image_size, 3).astype("float32")
    classes = np.random.randint(0, 10, args.batch)
    batched = tf.function(lambda x, c: cam(x, class_index=c))

    batched(images, classes)  # trace
    found = {}

    def run_batched():
        found["batched"] = batched(images, classes).numpy()

    def run_loop():
        found["loop"] = per_image_loop(cam, images, classes)
    times = alternate({"batched": run_batched, "loop": run_loop}, rounds=args.repeats)
    print(f"backbone={args.backbone} size={args.image_size} batch={args.batch} "
          f"device={'GPU' if tf.config.list_physical_devices('GPU') else 'CPU'}")
    print("Grad-CAM " + describe(times, "batched", "loop"))
    diff = np.abs(found["batched"] - found["loop"]).max()
    print(f"max |batched - loop|:          {diff:.2e}")
    if diff > 1e-3:
        raise SystemExit("maps disagree")


if __name__ == "__main__":
    main()
