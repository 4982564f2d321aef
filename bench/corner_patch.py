"""The corner-patch task of issue 38: is the shortcut gone, or only the map?

Each 32 px image holds one grey shape near the centre (square, disk,
triangle or cross: the class) on grey noise, and in training a 6x6 patch in
a random corner whose colour (red, green, blue, yellow) always names the
class: a shortcut easier to learn than the shape. The conflict images carry
another class's colour. The patch is ``ignore``, the shape's pixels
``attend``, its box ``boxes``.

Trains, over seeds, the plain model, the ceiling (no patches) and every
guide with the annotation it takes (``bench.shortcut_runs``) and prints the
Markdown table: clean and conflict accuracy, the wrong-reason share, the
predictions a patch swap changes, time per epoch over plain's.

    python bench/corner_patch.py                     # all methods, seeds 0-2
    python bench/corner_patch.py --methods plain,ceiling --seeds 0 --train 1000
"""

import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench import shortcut_runs  # noqa: E402
from bench.shortcut_runs import boxes_around  # noqa: E402

SIZE, PATCH = 32, 6
COLOURS = np.array([[0.9, 0.1, 0.1], [0.1, 0.8, 0.1], [0.15, 0.25, 0.95], [0.9, 0.85, 0.1]],
                   np.float32)
SHAPES = ("square", "disk", "triangle", "cross")


def shape_mask(kind, centre, radius):
    """(SIZE, SIZE) float32 mask of one shape."""
    import cv2
    mask = np.zeros((SIZE, SIZE), np.uint8)
    (y, x), r = centre, radius
    if kind == "square":
        cv2.rectangle(mask, (x - r, y - r), (x + r, y + r), 1, -1)
    elif kind == "disk":
        cv2.circle(mask, (x, y), r, 1, -1)
    elif kind == "triangle":
        cv2.fillPoly(mask, [np.array([[x, y - r], [x - r, y + r], [x + r, y + r]])], 1)
    else:
        w = max(r // 3, 1)
        cv2.rectangle(mask, (x - r, y - w), (x + r, y + w), 1, -1)
        cv2.rectangle(mask, (x - w, y - r), (x + w, y + r), 1, -1)
    return mask.astype(np.float32)


def make(count, rng, patch="class"):
    """(images (N, 32, 32, 3), labels, ignore, attend). ``patch``: "class"
    (its colour names the class), "other" (another class's), "none"."""
    labels = rng.integers(0, len(SHAPES), count)
    images = np.repeat(rng.uniform(0.0, 0.3, (count, SIZE, SIZE, 1)), 3, axis=-1)
    ignore = np.zeros((count, SIZE, SIZE), np.float32)
    attend = np.zeros((count, SIZE, SIZE), np.float32)
    others = (labels + rng.integers(1, 4, count)) % 4  # drawn alike for every ``patch``,
    colours = others if patch == "other" else labels  # so the shapes are the same
    for i, label in enumerate(labels):
        centre = tuple(int(c) for c in rng.integers(SIZE // 2 - 4, SIZE // 2 + 5, 2))
        attend[i] = shape_mask(SHAPES[label], centre, int(rng.integers(6, 10)))
        images[i][attend[i] > 0] = rng.uniform(0.4, 0.75)
        corner = rng.integers(0, 4)
        if patch != "none":
            y = 0 if corner < 2 else SIZE - PATCH
            x = 0 if corner % 2 == 0 else SIZE - PATCH
            images[i, y:y + PATCH, x:x + PATCH] = COLOURS[colours[i]]
            ignore[i, y:y + PATCH, x:x + PATCH] = 1.0
            attend[i, y:y + PATCH, x:x + PATCH] = 0.0  # the patch covers the shape there
    return images.astype(np.float32), labels, ignore, attend


def load(train_count, test_count, seed=0):
    """The task for ``bench.shortcut_runs``; the ceiling trains on the same
    shapes without patches."""
    rng = np.random.default_rng(seed)
    train, labels, ignore, attend = make(train_count, rng)
    clean_train = train.copy()
    clean_train[ignore > 0] = rng.uniform(0.0, 0.3, (int(ignore.sum()), 1))
    state = rng.bit_generator.state
    conflict, test_labels, test_ignore, _ = make(test_count, rng, patch="other")
    rng.bit_generator.state = state  # the same shapes, without patches
    clean_test, same_labels, _, _ = make(test_count, rng, patch="none")
    assert np.array_equal(test_labels, same_labels)
    return {"train": train, "clean_train": clean_train, "labels": labels, "ignore": ignore,
            "attend": attend, "boxes": boxes_around(attend), "clean_test": clean_test,
            "conflict": conflict, "test_ignore": test_ignore, "test_labels": test_labels}


def main(argv=None):
    shortcut_runs.main(__doc__, "Corner patch", "conflict", load,
                       ",".join(m for m in shortcut_runs.METHODS if m != "hnc"), 6000, 1000, 10,
                       argv)


if __name__ == "__main__":
    main()
