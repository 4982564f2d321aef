"""Cost of distraction training.

    python bench/distraction.py [--backbone resnet50] [--image-size 128] [--batch 16]

Prints (1) the time of a compiled training step with p=1 (Grad-CAM +
occlusion every batch) over one with p=0, same model, batch and machine, in
one run; target at most 1.6; (2) the time of the batched in-graph Grad-CAM +
occlusion over the reference implementation's per-image eager loop, and
checks that both occlude the same pixels.
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

from bench.gradcam import per_image_loop  # noqa: E402
from common.backbones import build_backbone  # noqa: E402
from distraction.model import build_distraction_model  # noqa: E402


class BatchTimes(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.ends = []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())


def step_time(model, data, steps, warmup=2):
    """Median seconds per compiled train step inside one fit call, the first
    ``warmup`` steps (tracing) left out."""
    times = BatchTimes()
    model.fit(data.take(steps + warmup), epochs=1, verbose=0, callbacks=[times])
    return float(np.median(np.diff(times.ends[warmup - 1:])))


def reference_loop(model, images, labels, threshold):
    """Per image: the reference Grad-CAM loop, then NumPy masking (the paper's code)."""
    heatmaps = per_image_loop(model.gradcam, images, labels)
    return np.where(heatmaps[..., None] > threshold, 0.0, images)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backbone", default="resnet50")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    shape = (args.image_size, args.image_size, 3)
    images = np.random.rand(args.batch, *shape).astype("float32")
    labels = np.random.randint(0, 10, args.batch)
    data = tf.data.Dataset.from_tensors((images, labels)).repeat()
    times = {}
    for p in (0.0, 1.0):
        model = build_distraction_model(build_backbone(args.backbone, shape), 10, p=p)
        model.compile(keras.optimizers.Adam(5e-5), "sparse_categorical_crossentropy")
        times[p] = step_time(model, data, args.steps)

    distract = tf.function(model.distract)
    distract(images, labels)
    start = time.perf_counter()
    batched = distract(images, labels).numpy()
    t_batched = time.perf_counter() - start
    start = time.perf_counter()
    looped = reference_loop(model, images, labels, model.threshold)
    t_loop = time.perf_counter() - start

    print(f"backbone={args.backbone} size={args.image_size} batch={args.batch} "
          f"device={'GPU' if tf.config.list_physical_devices('GPU') else 'CPU'}")
    print(f"train step p=0: {times[0.0]:.3f} s   p=1: {times[1.0]:.3f} s")
    print(f"ratio occluding step / plain step: {times[1.0] / times[0.0]:.2f}  (target <= 1.6)")
    print(f"batched in-graph occlusion: {t_batched:.3f} s   per-image eager loop: {t_loop:.3f} s")
    print(f"ratio batched / loop: {t_batched / t_loop:.3f}  (speed-up {t_loop / t_batched:.1f}x)")
    differ = np.mean(np.any(batched != looped, axis=-1))
    print(f"pixels occluded differently: {differ:.2e}")


if __name__ == "__main__":
    main()
