"""FSA's problem in miniature: the class is WHERE an object lies on a
cluttered canvas, not what it is. Objects are any grey images (the demos use
scikit-learn's digits; held-out checks use other images)."""

import cv2
import numpy as np

from common.data.synthetic import clutter, gaussian, paste, stratified_splits

# class -> object centres as fractions (y, x) of the canvas.
WHERE_CLASSES = {
    "absent": [],
    "bottom": [(0.75, 0.25), (0.75, 0.75)],
    "center": [(0.5, 0.5)],
    "top_left": [(0.25, 0.25)],
    "top_right": [(0.25, 0.75)],
}
WHERE_CONTRAST = 0.6  # the object's peak brightness relative to white
WHERE_DECOY_SHADES = np.linspace(80, 240, len(WHERE_CLASSES))  # corner square, per class


def make_where(objects, size, seed, rng, per_class=200, decoy=True):
    """(images, labels, splits, masks spec, masks) of the "where" problem.

    An object from ``objects`` ((N, h, w) uint8) is drawn at 60 % contrast
    near its class's centre. With ``decoy``, like the FSA paper's unseen
    drivers, val and test differ from train in the background: every image
    has a grey square in a random corner, whose shade names the class in the
    training split only (a shortcut a classifier can overfit to) and is
    random in val and test. Without it (``where-plain``) the images are the
    same, square aside, and plain cross-entropy works.
    """
    obj_size, patch = size // 4, max(2, size // 6)
    names = sorted(WHERE_CLASSES)
    labels = np.repeat(names, per_class)
    splits = stratified_splits(labels, seed)
    images = []
    for name, split in zip(labels, splits):
        canvas = clutter(rng, size)
        centres = WHERE_CLASSES[name]
        if centres:
            cy, cx = centres[rng.integers(len(centres))]
            obj = cv2.resize(objects[rng.integers(len(objects))], (obj_size, obj_size))
            jitter = rng.integers(-size // 16, size // 16 + 1, 2)
            top = int(np.clip(cy * size - obj_size / 2 + jitter[0], 0, size - obj_size))
            left = int(np.clip(cx * size - obj_size / 2 + jitter[1], 0, size - obj_size))
            paste(canvas, WHERE_CONTRAST * obj.astype(np.float32), top, left)
        shade = names.index(name) if split == "train" else rng.integers(len(names))
        corner = rng.integers(4)
        y0, x0 = (size - patch) * (corner // 2), (size - patch) * (corner % 2)
        if decoy:
            canvas[y0:y0 + patch, x0:x0 + patch] = WHERE_DECOY_SHADES[shade]
        images.append(np.clip(canvas, 0, 255).astype(np.uint8))
    sigma = obj_size / 2.0
    spec = {"image_size": [size, size],
            "classes": {n: {"centers": [[cy * size, cx * size] for cy, cx in WHERE_CLASSES[n]],
                            "sigma": sigma} for n in names}}
    most = max(len(c) for c in WHERE_CLASSES.values())
    masks = np.zeros((len(names), most, size, size), np.float32)
    counts = np.zeros(len(names), np.int64)
    for i, name in enumerate(names):
        for j, (cy, cx) in enumerate(WHERE_CLASSES[name]):
            masks[i, j] = gaussian(size, (cy * size, cx * size), sigma)
        counts[i] = len(WHERE_CLASSES[name])
    return images, [str(name) for name in labels], splits, spec, {
        "masks": masks, "counts": counts, "classes": np.array(names)}
