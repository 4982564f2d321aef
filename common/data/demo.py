"""Demo datasets built deterministically from real images that ship with the
dependencies (scikit-learn's digits; Fashion-MNIST from the Debian package
``dataset-fashion-mnist``, found by ``common.data.fashion_mnist``). Each demo is written as image
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
- ``where-plain``: the same images without the corner square, a problem
  plain cross-entropy solves (FSA must not hurt there).
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

from common.data import fashion_mnist as fashion_mnist_files
from common.data.synthetic import clutter, paste, stratified_splits
from common.data.where import make_where
from common.errors import ArgumentError, named_by

FASHION_CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                   "sneaker", "bag", "ankle-boot"]
DEMOS = ("digits", "fashion", "where", "where-plain", "wsol")
DEFAULT_SIZES = {"digits": 32, "fashion": 32, "where": 64, "where-plain": 64, "wsol": 64}
# bumped when a demo changes, so old caches are not reused
DEMO_VERSIONS = {"where": 2, "where-plain": 1}

def default_root():
    return os.environ.get("ATTENTION_DEMO_DIR",
                          os.path.join(os.path.expanduser("~"), ".cache", "attention-guided",
                                       "demo"))


def sklearn_digits():
    """scikit-learn's 1797 digits: (N, 8, 8) uint8 0-255, labels, class names."""
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
    """(images (N, 28, 28) uint8, labels (N,)); FileNotFoundError says
    where it looked and how to get the files."""
    folder = fashion_mnist_files.locate()
    if folder is None:
        raise FileNotFoundError(f"the 'fashion' demo needs {fashion_mnist_files.missing_message()}")
    prefix = "train" if split == "train" else "t10k"
    files = [os.path.join(folder, f"{prefix}-{kind}-idx{n}-ubyte.gz")
             for kind, n in (("images", 3), ("labels", 1))]
    return read_idx(files[0]), read_idx(files[1]).astype(int)


def _make_digits(size, seed, rng):
    images, labels, classes = sklearn_digits()
    resized = [cv2.resize(im, (size, size), interpolation=cv2.INTER_LINEAR) for im in images]
    return resized, [classes[i] for i in labels], stratified_splits(labels, seed), None, {}


def make_fashion(size, seed, rng, per_class=300, split="train", offset=0):
    """The ``fashion`` demo: ``per_class`` Fashion-MNIST images per class
    from ``split`` ("train"; "test" gives a held-out set of other images),
    from the ``offset``-th image of each class's shuffled order on."""
    images, labels = fashion_mnist(split)
    chosen = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[
        offset:offset + per_class] for c in range(10)])
    resized = [cv2.resize(images[i], (size, size), interpolation=cv2.INTER_LINEAR)
               for i in chosen]
    return (resized, [FASHION_CLASSES[labels[i]] for i in chosen],
            stratified_splits(labels[chosen], seed), None, {})


def _make_where(size, seed, rng, decoy=True):
    """See ``common.data.where``: scikit-learn's digits as the objects."""
    digits, _, _ = sklearn_digits()
    images, labels, splits, spec, masks = make_where(digits, size, seed, rng, decoy=decoy)
    return images, labels, splits, None, {"masks.json": spec, "masks.npz": masks}


def make_wsol(size, seed, rng):
    digits, targets, classes = sklearn_digits()
    images, boxes = [], []
    for digit in digits:
        canvas = clutter(rng, size)
        obj_size = int(rng.integers(size // 4, size // 2 + 1))
        obj = cv2.resize(digit, (obj_size, obj_size)).astype(np.float32)
        top, left = (int(v) for v in rng.integers(0, size - obj_size + 1, 2))
        boxes.append(paste(canvas, obj, top, left))
        images.append(np.clip(canvas, 0, 255).astype(np.uint8))
    return images, [classes[t] for t in targets], stratified_splits(targets, seed), boxes, {}


_BUILDERS = {"digits": _make_digits, "fashion": make_fashion, "where": _make_where,
             "where-plain": lambda size, seed, rng: _make_where(size, seed, rng, decoy=False),
             "wsol": make_wsol}


def demo_source(data, seed=0):
    """The CSV of ``data`` when it is ``demo:NAME`` (built on first use),
    else ``data`` itself: what ``read_data`` reads."""
    if not str(data).startswith("demo:"):
        return data
    with named_by("data", "name"):
        return demo_csv(str(data).split(":", 1)[1], seed=seed)


def demo_csv(name, image_size=None, seed=0, root=None):
    """Path of the CSV of demo ``name``, building it on first use.

    The folder is keyed by name, version, size and seed and written under a
    temporary name then renamed, so an interrupted build never leaves half a
    demo.
    """
    if name not in _BUILDERS:
        raise ArgumentError(f"unknown demo 'demo:{name}'; expected one of {DEMOS}", "name")
    size = int(image_size or DEFAULT_SIZES[name])
    root = root or default_root()
    version = f"-v{DEMO_VERSIONS[name]}" if name in DEMO_VERSIONS else ""
    folder = os.path.join(root, f"{name}{version}-{size}px-seed{seed}")
    csv_path = os.path.join(folder, "data.csv")
    if os.path.isfile(csv_path):
        return csv_path
    rng = np.random.default_rng(seed)
    return write_dataset(folder, *_BUILDERS[name](size, seed, rng))


def write_dataset(folder, images, labels, splits, boxes=None, extra=None):
    """Writes images (uint8) as ``images/<label>/NNNNN.png`` and ``data.csv``
    (path, label, split[, x0, y0, x1, y1]) plus ``extra`` files (name ->
    JSON-able value for ``.json``, dict of arrays for ``.npz``) into
    ``folder``, atomically; returns the CSV path."""
    import pandas as pd
    csv_path = os.path.join(folder, "data.csv")
    root = os.path.dirname(os.path.abspath(folder))
    os.makedirs(root, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(folder)}-", dir=root)
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
        pd.DataFrame(rows).to_csv(os.path.join(tmp, "data.csv"), index=False)
        for filename, content in (extra or {}).items():
            if filename.endswith(".json"):
                with open(os.path.join(tmp, filename), "w") as handle:
                    json.dump(content, handle, indent=1)
            else:
                np.savez(os.path.join(tmp, filename), **content)
        os.rename(tmp, folder)
    except FileExistsError:
        pass  # another process finished the same dataset first
    except OSError as error:
        if not os.path.isfile(csv_path):
            raise RuntimeError(f"could not write dataset to {folder}: {error}") from error
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return csv_path
