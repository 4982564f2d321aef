"""Cost of Forced Spatial Attention.

    python bench/fsa.py [--image-size 224] [--batch 32]

Prints (1) the time of a compiled FSA training step (CE + FSA loss, stage 2,
the dearer one) over a CE-only step of the same model; (2) the inference
latency of the exported model (``model.network`` saved and reloaded) over a
plain SqueezeNet v1.1 built directly.
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import fsa  # noqa: E402, F401
from bench.timing import alternate, describe, train_step_seconds  # noqa: E402
from fsa.masks import gaussian_mask  # noqa: E402
from fsa.model import build_fsa_model  # noqa: E402
from fsa.network import build_squeezenet  # noqa: E402


def latency(model, images, repeats=5):
    """A measurement: median seconds of a compiled forward pass."""
    forward = tf.function(lambda x: model(x, training=False))
    forward(images)

    def measure():
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            forward(images).numpy()
            times.append(time.perf_counter() - start)
        return float(np.median(times))
    return measure


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--classes", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    size, n = args.image_size, args.classes
    shape = (size, size, 3)
    masks = np.stack([[gaussian_mask((size, size), [(size * (c + 1) / (n + 1), size / 2)],
                                     size / 8)] * 2 for c in range(n)]).astype("float32")
    images = np.random.rand(args.batch, *shape).astype("float32")
    labels = np.random.randint(0, n, args.batch)
    data = tf.data.Dataset.from_tensors((images, labels)).repeat()
    steps = {}
    for name, weight in (("CE step", 0.0), ("FSA step", 10.0)):
        model = build_fsa_model(n, masks, [2] * n, input_shape=shape, lambda_fsa=weight,
                                stage=2)
        model.compile(keras.optimizers.SGD(5e-4, momentum=0.9),
                      "sparse_categorical_crossentropy")
        steps[name] = train_step_seconds(model, data, args.steps)
    times = alternate(steps, rounds=args.rounds)

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.network.save(path)
        exported = keras.saving.load_model(path)
    plain = build_squeezenet(n, shape)
    forward = alternate({"exported": latency(exported, images),
                         "plain SqueezeNet": latency(plain, images)}, rounds=args.rounds)

    print(f"size={size} batch={args.batch} classes={n} "
          f"device={'GPU' if tf.config.list_physical_devices('GPU') else 'CPU'}")
    print(describe(times, "FSA step", "CE step"))
    print("inference " + describe(forward, "exported", "plain SqueezeNet") +
          f" (parameters {exported.count_params():,} vs {plain.count_params():,})")


if __name__ == "__main__":
    main()
