"""Batched in-graph GradCAM vs the per-image eager loop of the reference
implementations (Keras.io example, the distraction paper's code).

    python bench/gradcam.py [--backbone mobilenet] [--image-size 128] [--batch 32]

Prints both times, their ratio, and the largest difference between the maps.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from common.backbones import build_backbone  # noqa: E402
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


def timed(fn, repeats):
    fn()  # warm-up (tracing)
    start = time.perf_counter()
    for _ in range(repeats):
        out = fn()
    return (time.perf_counter() - start) / repeats, out


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backbone", default="mobilenet")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    model = classifier(args.backbone, args.image_size)
    cam = GradCAM(model)
    images = np.random.rand(args.batch, args.image_size, args.image_size, 3).astype("float32")
    classes = np.random.randint(0, 10, args.batch)
    batched = tf.function(lambda x, c: cam(x, class_index=c))

    t_batched, maps = timed(lambda: batched(images, classes).numpy(), args.repeats)
    t_loop, ref = timed(lambda: per_image_loop(cam, images, classes), 1)
    print(f"backbone={args.backbone} size={args.image_size} batch={args.batch} "
          f"device={'GPU' if tf.config.list_physical_devices('GPU') else 'CPU'}")
    print(f"batched GradCAM (tf.function): {t_batched:.3f} s")
    print(f"per-image eager loop:          {t_loop:.3f} s")
    print(f"ratio batched / loop:          {t_batched / t_loop:.3f}  "
          f"(speed-up {t_loop / t_batched:.1f}x)")
    diff = np.abs(maps - ref).max()
    print(f"max |batched - loop|:          {diff:.2e}")
    if diff > 1e-3:
        raise SystemExit("maps disagree")


if __name__ == "__main__":
    main()
