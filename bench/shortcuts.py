"""Decoy-FashionMNIST (Ross et al. 2017): can a guide remove a shortcut?

Each training image gets a 4x4 swatch in a random corner whose grey level
is 255 - 25 x label: a perfect shortcut. At test the swatch takes another
class's level, so a model that reads the swatch is wrong. The swatch is
the ``ignore`` annotation; the garment's pixels are ``attend``.

Trains, over seeds, the plain model (cross-entropy), the ceiling (the same
model on images without swatches) and the guides, each with the annotation
it takes (the shortcut guides: ``ignore``; box energy: the garment's box,
from ``attend``; Grad-CAM occlusion and HNC: none), on the same images,
model (the tiny backbone -> GAP -> Dense), optimiser and epochs, and
prints a Markdown table: accuracy on the clean test images and on the
decoy-test images, the wrong-reason share (the share of the input
gradient's magnitude inside the swatch, mean over decoy-test images; 16 of
784 pixels: 2 % if spread evenly), the share of decoy-test predictions
that change when each image's swatch is swapped for another's
(``common.reliance``) and the training time per epoch over plain's.

    python bench/shortcuts.py                      # all methods, seeds 0-2
    python bench/shortcuts.py --methods plain,rrr,rrr=10 --seeds 0 --train 2000
"""

import argparse
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

SWATCH = 4
RRR_WEIGHT = 1000.0  # Ross et al.'s for Decoy-MNIST (the guide's default)
METHODS = ("plain", "ceiling", "rrr", "gradcam", "counterexamples", "box_energy", "occlusion",
           "hnc")


def decoy(images, labels, rng, test=False, classes=10):
    """(images (N, 28, 28) uint8 with swatches, ignore masks, attend masks):
    a swatch in a random corner, level 255 - 25 x label (at test, another
    class's level, drawn uniformly among the other classes)."""
    images = images.copy()
    count, size = len(images), images.shape[1]
    levels = labels if not test else (labels + rng.integers(1, classes, count)) % classes
    ignore = np.zeros(images.shape, np.float32)
    corners = rng.integers(0, 4, count)
    for i, corner in enumerate(corners):
        y = 0 if corner < 2 else size - SWATCH
        x = 0 if corner % 2 == 0 else size - SWATCH
        images[i, y:y + SWATCH, x:x + SWATCH] = 255 - 25 * levels[i]
        ignore[i, y:y + SWATCH, x:x + SWATCH] = 1.0
    attend = ((images > 0) & (ignore == 0)).astype(np.float32)
    return images, ignore, attend


def as_rgb(images):
    return np.repeat(images[..., None].astype(np.float32) / 255.0, 3, axis=-1)


def build(method, seed, lr=1e-3):
    import keras

    import common
    from common.backbones.tiny import tiny_convnet
    keras.utils.set_random_seed(seed)
    network = common.build_cam_classifier(tiny_convnet((28, 28, 3)), 10)
    name, _, weight = method.partition("=")  # "rrr=10": another weight
    weight = float(weight) if weight else None
    guides = {"rrr": lambda: [common.InputGradientPenalty(weight or RRR_WEIGHT)],
              "gradcam": lambda: [common.GradCamPenalty(weight or 1.0)],
              "counterexamples": lambda: [common.Counterexamples()],
              # the guides made for other annotations, each with the one it takes:
              "box_energy": lambda: [common.BoxEnergy(weight or 1.0)],  # the garment's box
              "occlusion": lambda: [_occlusion(weight)],  # what Grad-CAM looks at
              "hnc": lambda: [common.HomogeneousNegativeCam(weight or 0.07)],
              }.get(name, list)()
    model = common.GuidedClassifier(network, guides=guides)
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _occlusion(p):
    from distraction.guide import GradCamOcclusion
    return GradCamOcclusion(p=p if p is not None else 0.25)


def garment_boxes(attend):
    """(N, 1, 4) normalised [y1, x1, y2, x2] around each image's garment."""
    boxes = np.zeros((len(attend), 1, 4), np.float32)
    size = attend.shape[1]
    for i, mask in enumerate(attend):
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        if len(rows):
            boxes[i, 0] = (rows[0] / size, cols[0] / size, (rows[-1] + 1) / size,
                           (cols[-1] + 1) / size)
    return boxes


def wrong_reason_share(network, images, ignore, batch=256):
    """Mean over images of the share of |d sum log p / d x| (summed over
    channels) that lies inside ``ignore``."""
    import tensorflow as tf
    shares = []
    for start in range(0, len(images), batch):
        x = tf.constant(images[start:start + batch])
        with tf.GradientTape() as tape:
            tape.watch(x)
            summed = tf.reduce_sum(tf.math.log(tf.maximum(network(x), 1e-12)))
        magnitude = tf.reduce_sum(tf.abs(tape.gradient(summed, x)), axis=-1).numpy()
        inside = (magnitude * ignore[start:start + batch]).sum(axis=(1, 2))
        shares.append(inside / np.maximum(magnitude.sum(axis=(1, 2)), 1e-12))
    return float(np.concatenate(shares).mean())


def run(method, seed, data, epochs, batch, lr):
    from common.reliance import reliance
    (train_x, train_y, train_ignore, train_boxes, clean_train, test_clean, decoy_test,
     test_ignore, test_y) = data
    model = build(method, seed, lr)
    x = clean_train if method == "ceiling" else train_x
    inputs = {"image": x, "ignore": train_ignore, "boxes": train_boxes}
    started = time.perf_counter()
    history = model.fit(inputs, train_y, batch_size=batch, epochs=epochs, verbose=0,
                        shuffle=True)
    seconds = (time.perf_counter() - started) / epochs
    network = model.network
    clean = float((network.predict(test_clean, verbose=0).argmax(-1) == test_y).mean())
    fooled = float((network.predict(decoy_test, verbose=0).argmax(-1) == test_y).mean())
    swapped = reliance(network, decoy_test, test_ignore, test_y, batch_size=batch * 4)
    return {"clean": clean, "decoy": fooled, "wr": wrong_reason_share(network, decoy_test,
                                                                     test_ignore),
            "changed": swapped["changed_pct"], "seconds": seconds,
            "loss": float(history.history["loss"][-1])}


def load(train_count, test_count, seed=0):
    from common.data.demo import fashion_mnist
    rng = np.random.default_rng(seed)
    images, labels = fashion_mnist("train")
    pick = rng.permutation(len(images))[:train_count]
    images, labels = images[pick], labels[pick]
    decoyed, ignore, attend = decoy(images, labels, rng)
    test_images, test_labels = fashion_mnist("test")
    pick = rng.permutation(len(test_images))[:test_count]
    test_images, test_labels = test_images[pick], test_labels[pick]
    decoy_test, test_ignore, _ = decoy(test_images, test_labels, rng, test=True)
    return (as_rgb(decoyed), labels, ignore, garment_boxes(attend), as_rgb(images),
            as_rgb(test_images), as_rgb(decoy_test), test_ignore, test_labels)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--train", type=int, default=10000, help="training images")
    parser.add_argument("--test", type=int, default=2000, help="test images")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam's learning rate")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    unknown = sorted({m.partition("=")[0] for m in methods} - set(METHODS))
    if unknown:
        parser.error(f"--methods: unknown {unknown}; expected some of {list(METHODS)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    data = load(args.train, args.test)
    results = {}
    for seed in seeds:
        for method in methods:  # alternated per seed: the machine's load hits all alike
            result = run(method, seed, data, args.epochs, args.batch_size, args.lr)
            results.setdefault(method, []).append(result)
            print(f"{method} seed {seed}: clean {result['clean']:.3f} decoy-test "
                  f"{result['decoy']:.3f} wrong-reason share {result['wr']:.3f} swatch swap "
                  f"changes {result['changed']:.1f} % "
                  f"({result['seconds']:.1f} s/epoch)", file=sys.stderr, flush=True)
    plain = np.median([r["seconds"] for r in results.get("plain", [])]) if "plain" in results \
        else None
    print(f"\nDecoy-FashionMNIST, {args.train} training images, {args.test} test images, "
          f"{args.epochs} epochs, Adam {args.lr:g}, batch {args.batch_size}, seeds {args.seeds}\n")
    print("| method | clean test | decoy-test (per seed) | decoy-test mean | wrong-reason "
          "share | predictions changed by a swatch swap | time / epoch vs plain |")
    print("|---|---|---|---|---|---|---|")
    for method, rows in results.items():
        cell = lambda key: f"{np.mean([r[key] for r in rows]):.3f}"  # noqa: E731
        per_seed = " / ".join(f"{r['decoy']:.3f}" for r in rows)
        ratio = (f"{np.median([r['seconds'] for r in rows]) / plain:.2f}x" if plain
                 else "—")
        print(f"| {method} | {cell('clean')} | {per_seed} | {cell('decoy')} | {cell('wr')} | "
              f"{np.mean([r['changed'] for r in rows]):.1f} % | {ratio} |")


if __name__ == "__main__":
    main()
