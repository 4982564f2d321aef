"""Why does the input-gradient guide leave the corner patch in place?
Trains it on bench/corner_patch.py's task (seed 0) and prints, after each
epoch, the penalty the step trains on (the squared input gradient inside
the patch, BatchNorm with batch statistics), the same with BatchNorm's
moving averages, and the conflict accuracy; at the end the conflict and
clean accuracy with either statistics.

    python bench/input_gradient_probe.py [--method rrr=10] [--seed 0]
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import corner_patch  # noqa: E402
from bench.shortcut_runs import build  # noqa: E402

PROBE = 512  # training images the penalty is measured on


def penalty(network, images, ignore, training):
    import tensorflow as tf
    x = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(x)
        summed = tf.reduce_sum(tf.math.log(tf.maximum(network(x, training=training), 1e-12)))
    gradient = tape.gradient(summed, x).numpy()
    return float(np.mean(np.sum((gradient * ignore[..., None]) ** 2, axis=(1, 2, 3))))


def accuracy(network, images, labels, training, batch=64):
    predicted = np.concatenate([network(images[i:i + batch], training=training).numpy()
                                .argmax(-1) for i in range(0, len(images), batch)])
    return float((predicted == labels).mean())


def main(argv=None):
    import keras
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", default="rrr")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args(argv)
    task = corner_patch.load(6000, 1000)
    model = build(args.method, args.seed, corner_patch.SIZE, 4, 3e-3)
    probe_x, probe_ignore = task["train"][:PROBE], task["ignore"][:PROBE]
    y = task["test_labels"]

    class Probe(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            net = model.network
            print(f"epoch {epoch + 1}: loss {logs['loss']:.3f} penalty with batch statistics "
                  f"{penalty(net, probe_x, probe_ignore, True):.3g}, with moving averages "
                  f"{penalty(net, probe_x, probe_ignore, False):.3g}; conflict accuracy "
                  f"{accuracy(net, task['conflict'], y, False):.3f}", flush=True)

    inputs = {"image": task["train"], "ignore": task["ignore"], "attend": task["attend"],
              "boxes": task["boxes"]}
    model.fit(inputs, task["labels"], batch_size=64, epochs=args.epochs, verbose=0,
              callbacks=[Probe()])
    for name in ("conflict", "clean_test"):
        print(f"{name}: accuracy {accuracy(model.network, task[name], y, False):.3f} with "
              f"moving averages, {accuracy(model.network, task[name], y, True):.3f} with batch "
              "statistics")


if __name__ == "__main__":
    main()
