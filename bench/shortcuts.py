"""Decoy-FashionMNIST (Ross et al. 2017): can a guide remove a shortcut?

Each training image gets a 4x4 swatch in a random corner whose grey level
is 255 - 25 x label: a perfect shortcut. At test the swatch takes another
class's level, so a model that reads the swatch is wrong. The swatch is
the ``ignore`` annotation; the garment's pixels are ``attend``.

Trains, over seeds, the plain model (cross-entropy), the ceiling (the same
model on images without swatches) and every guide, each with the
annotation it takes (``bench.shortcut_runs``: RRR, RRR-G, counterexamples:
``ignore``; HINT and FSA: ``attend``; box energy: the garment's box;
Grad-CAM occlusion and HNC: none), on the same images, model (the tiny
backbone -> GAP -> Dense), optimiser and epochs, and prints a Markdown
table: accuracy on the clean test images and on the decoy-test images
(the conflict set), the wrong-reason share (the share of the input
gradient's magnitude inside the swatch, mean over decoy-test images; 16 of
784 pixels: 2 % if spread evenly), the share of decoy-test predictions
that change when each image's swatch is swapped for another's
(``common.reliance``) and the training time per epoch over plain's.

    python bench/shortcuts.py                      # all methods, seeds 0-2
    python bench/shortcuts.py --methods plain,rrr,rrr=10 --seeds 0 --train 2000
"""

import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench import shortcut_runs  # noqa: E402
from bench.shortcut_runs import boxes_around  # noqa: E402

SWATCH = 4


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


def load(train_count, test_count, seed=0):
    """The task for ``bench.shortcut_runs``."""
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
    return {"train": as_rgb(decoyed), "clean_train": as_rgb(images), "labels": labels,
            "ignore": ignore, "attend": attend, "boxes": boxes_around(attend),
            "clean_test": as_rgb(test_images), "conflict": as_rgb(decoy_test),
            "test_ignore": test_ignore, "test_labels": test_labels}


def main(argv=None):
    shortcut_runs.main(__doc__, "Decoy-FashionMNIST", "decoy-test", load,
                       "plain,ceiling,rrr,gradcam,counterexamples,hint,fsa,box_energy,"
                       "occlusion,hnc", 10000, 2000, 8, argv)


if __name__ == "__main__":
    main()
