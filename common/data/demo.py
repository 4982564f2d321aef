"""Demo datasets built deterministically from real images that ship with the
dependencies (scikit-learn's digits; Fashion-MNIST from the Debian package
``dataset-fashion-mnist`` when installed). Each demo is written as image
files + a CSV, the same format as user data, so demos run the real loading
path.

- ``digits``: the 1,797 handwritten digits, upscaled.
- ``fashion``: a class-balanced subset of Fashion-MNIST.
- ``where``: FSA's problem in miniature: the class is WHERE a faint digit
  lies on a cluttered canvas, not which digit it is; a corner square whose
  shade gives the class away in the training split only (random in val and
  test) plays the background a classifier overfits to. Ships ``masks.npz``
  and ``masks.json`` (per-class Gaussian priors; "bottom" has two, "absent"
  none).
- ``wsol``: a digit at a random position and scale on a cluttered canvas, its
  box in the CSV, for weakly supervised localisation.
"""

import gzip
import json
import os
import shutil
import tempfile

import cv2
import numpy as np

FASHION_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                   "sneaker", "bag", "ankle-boot"]
DEMOS = ("digits", "fashion", "where", "wsol")
DEFAULT_SIZES = {"digits": 32, "fashion": 32, "where": 64, "wsol": 64}
DEMO_VERSIONS = {"where": 2}  # bumped when a demo changes, so old caches are not reused

# "where": class -> object centres as fractions (y, x) of the canvas.
WHERE_CLASSES = {
    "absent": [],
    "bottom": [(0.75, 0.25), (0.75, 0.75)],
    "center": [(0.5, 0.5)],
    "top_left": [(0.25, 0.25)],
    "top_right": [(0.25, 0.75)],
}
WHERE_CONTRAST = 0.6  # the digit's peak brightness relative to white
WHERE_DECOY_SHADES = np.linspace(80, 240, len(WHERE_CLASSES))  # corner square, per class


def default_root():
    return os.environ.get("ATTENTION_DEMO_DIR",
                          os.path.join(os.path.expanduser("~"), ".cache", "attention-guided",
                                       "demo"))


def _digits():
    from sklearn.datasets import load_digits
    digits = load_digits()
    images = (digits.images * (255.0 / 16.0)).astype(np.uint8)  # (N, 8, 8)
    return images, digits.target.astype(int), [str(i) for i in range(10)]


def read_idx(path):
    """An IDX file (optionally gzipped) as a NumPy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def fashion_mnist(split="train"):
    """(images (N, 28, 28) uint8, labels (N,)) from the Debian package."""
    prefix = "train" if split == "train" else "t10k"
    files = [os.path.join(FASHION_DIR, f"{prefix}-{kind}-idx{n}-ubyte.gz")
             for kind, n in (("images", 3), ("labels", 1))]
    if not all(os.path.isfile(f) for f in files):
        raise FileNotFoundError("the 'fashion' demo needs Fashion-MNIST from the Debian "
                                f"package dataset-fashion-mnist (expected {files[0]}); "
                                "install it with: apt-get install dataset-fashion-mnist")
    return read_idx(files[0]), read_idx(files[1]).astype(int)


def _splits(labels, seed):
    from sklearn.model_selection import train_test_split
    index = np.arange(len(labels))
    train, rest = train_test_split(index, test_size=0.3, random_state=seed, stratify=labels)
    val, test = train_test_split(rest, test_size=0.5, random_state=seed, stratify=labels[rest])
    split = np.empty(len(labels), object)
    split[train], split[val], split[test] = "train", "val", "test"
    return split


def _clutter(rng, size):
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


def _paste(canvas, obj, top, left):
    """Pastes obj (max-blend, so the clutter stays under it); returns the
    tight pixel box (x0, y0, x1, y1) of the object's ink."""
    h, w = obj.shape
    region = canvas[top:top + h, left:left + w]
    np.maximum(region, obj, out=region)
    ys, xs = np.nonzero(obj > 64)
    if len(ys) == 0:
        return left, top, left + w, top + h
    return left + xs.min(), top + ys.min(), left + xs.max() + 1, top + ys.max() + 1


def _gaussian(size, center, sigma):
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    return np.exp(-((yy - center[0]) ** 2 + (xx - center[1]) ** 2) / (2 * sigma ** 2))


def _make_digits(size, seed, rng):
    images, labels, classes = _digits()
    resized = [cv2.resize(im, (size, size), interpolation=cv2.INTER_LINEAR) for im in images]
    return resized, [classes[i] for i in labels], _splits(labels, seed), None, {}


def _make_fashion(size, seed, rng, per_class=300):
    images, labels = fashion_mnist("train")
    chosen = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:per_class]
                             for c in range(10)])
    resized = [cv2.resize(images[i], (size, size), interpolation=cv2.INTER_LINEAR)
               for i in chosen]
    return (resized, [FASHION_CLASSES[labels[i]] for i in chosen],
            _splits(labels[chosen], seed), None, {})


def _make_where(size, seed, rng, per_class=200):
    """The class is where a faint digit lies. Like the FSA paper's unseen
    drivers, val and test differ from train in the background: every image
    has a grey square in a random corner, whose shade names the class in the
    training split only (a shortcut a classifier can overfit to) and is
    random in val and test. The digit is drawn at 60 % contrast, so the
    shortcut is the easier cue."""
    digits, _, _ = _digits()
    obj_size, patch = size // 4, max(2, size // 6)
    names = sorted(WHERE_CLASSES)
    labels = np.repeat(names, per_class)
    splits = _splits(labels, seed)
    images = []
    for name, split in zip(labels, splits):
        canvas = _clutter(rng, size)
        centres = WHERE_CLASSES[name]
        if centres:
            cy, cx = centres[rng.integers(len(centres))]
            obj = cv2.resize(digits[rng.integers(len(digits))], (obj_size, obj_size))
            jitter = rng.integers(-size // 16, size // 16 + 1, 2)
            top = int(np.clip(cy * size - obj_size / 2 + jitter[0], 0, size - obj_size))
            left = int(np.clip(cx * size - obj_size / 2 + jitter[1], 0, size - obj_size))
            _paste(canvas, WHERE_CONTRAST * obj.astype(np.float32), top, left)
        shade = names.index(name) if split == "train" else rng.integers(len(names))
        corner = rng.integers(4)
        y0, x0 = (size - patch) * (corner // 2), (size - patch) * (corner % 2)
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
            masks[i, j] = _gaussian(size, (cy * size, cx * size), sigma)
        counts[i] = len(WHERE_CLASSES[name])
    extra = {"masks.json": spec, "masks.npz": {"masks": masks, "counts": counts,
                                               "classes": np.array(names)}}
    return images, [str(name) for name in labels], splits, None, extra


def _make_wsol(size, seed, rng):
    digits, targets, classes = _digits()
    images, boxes = [], []
    for digit in digits:
        canvas = _clutter(rng, size)
        obj_size = int(rng.integers(size // 4, size // 2 + 1))
        obj = cv2.resize(digit, (obj_size, obj_size)).astype(np.float32)
        top, left = (int(v) for v in rng.integers(0, size - obj_size + 1, 2))
        boxes.append(_paste(canvas, obj, top, left))
        images.append(np.clip(canvas, 0, 255).astype(np.uint8))
    return images, [classes[t] for t in targets], _splits(targets, seed), boxes, {}


_BUILDERS = {"digits": _make_digits, "fashion": _make_fashion, "where": _make_where,
             "wsol": _make_wsol}


def demo_csv(name, image_size=None, seed=0, root=None):
    """Path of the CSV of demo ``name``, building it on first use.

    The folder is keyed by name, version, size and seed and written under a
    temporary name then renamed, so an interrupted build never leaves half a
    demo.
    """
    if name not in _BUILDERS:
        raise ValueError(f"--data demo:{name}: unknown demo; expected one of {DEMOS}")
    size = int(image_size or DEFAULT_SIZES[name])
    root = root or default_root()
    version = f"-v{DEMO_VERSIONS[name]}" if name in DEMO_VERSIONS else ""
    folder = os.path.join(root, f"{name}{version}-{size}px-seed{seed}")
    csv_path = os.path.join(folder, "data.csv")
    if os.path.isfile(csv_path):
        return csv_path
    os.makedirs(root, exist_ok=True)
    rng = np.random.default_rng(seed)
    images, labels, splits, boxes, extra = _BUILDERS[name](size, seed, rng)
    tmp = tempfile.mkdtemp(prefix=f".{name}-", dir=root)
    try:
        rows = []
        for i, (image, label, split) in enumerate(zip(images, labels, splits)):
            relative = os.path.join("images", label, f"{i:05d}.png")
            os.makedirs(os.path.join(tmp, "images", label), exist_ok=True)
            cv2.imwrite(os.path.join(tmp, relative), image)
            row = {"path": relative, "label": label, "split": split}
            if boxes is not None:
                row.update(zip(("x0", "y0", "x1", "y1"), (int(v) for v in boxes[i])))
            rows.append(row)
        import pandas as pd
        pd.DataFrame(rows).to_csv(os.path.join(tmp, "data.csv"), index=False)
        for filename, content in extra.items():
            if filename.endswith(".json"):
                with open(os.path.join(tmp, filename), "w") as handle:
                    json.dump(content, handle, indent=1)
            else:
                np.savez(os.path.join(tmp, filename), **content)
        os.rename(tmp, folder)
    except FileExistsError:
        pass  # another process finished the same demo first
    except OSError as error:
        if not os.path.isfile(csv_path):
            raise RuntimeError(f"could not write demo '{name}' to {folder}: {error}") from error
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return csv_path
