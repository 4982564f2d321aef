"""Building blocks of the synthetic demo images: a cluttered canvas, objects
pasted on it, Gaussian masks and a stratified split."""

import cv2
import numpy as np


def stratified_splits(labels, seed):
    """train / val / test (70 / 15 / 15 %) per class, seeded."""
    from sklearn.model_selection import train_test_split
    index = np.arange(len(labels))
    train, rest = train_test_split(index, test_size=0.3, random_state=seed, stratify=labels)
    val, test = train_test_split(rest, test_size=0.5, random_state=seed, stratify=labels[rest])
    split = np.empty(len(labels), object)
    split[train], split[val], split[test] = "train", "val", "test"
    return split


def clutter(rng, size):
    """A canvas of faint lines, rectangles and noise: background to ignore."""
    canvas = rng.uniform(0, 40, (size, size)).astype(np.float32)
    for _ in range(rng.integers(3, 7)):
        p0, p1 = rng.integers(0, size, 2), rng.integers(0, size, 2)
        cv2.line(canvas, tuple(int(v) for v in p0), tuple(int(v) for v in p1),
                 float(rng.uniform(60, 140)), 1)
    for _ in range(rng.integers(1, 3)):
        x, y = rng.integers(0, size - 4, 2)
        w, h = rng.integers(2, max(3, size // 8), 2)
        cv2.rectangle(canvas, (int(x), int(y)), (int(x + w), int(y + h)),
                      float(rng.uniform(60, 140)), -1)
    return canvas


def paste(canvas, obj, top, left):
    """Pastes obj (max-blend, so the clutter stays under it); returns the
    tight pixel box (x0, y0, x1, y1) of the object's ink."""
    h, w = obj.shape
    region = canvas[top:top + h, left:left + w]
    np.maximum(region, obj, out=region)
    ys, xs = np.nonzero(obj > 64)
    if len(ys) == 0:
        return left, top, left + w, top + h
    return left + xs.min(), top + ys.min(), left + xs.max() + 1, top + ys.max() + 1


def gaussian(size, center, sigma):
    """(size, size) float32 Gaussian with peak 1 at ``center`` (y, x)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    return np.exp(-((yy - center[0]) ** 2 + (xx - center[1]) ** 2) / (2 * sigma ** 2))
