"""What the accuracy benchmarks share: held-out data sets built like the
demos from other images, a method's demo settings as a --config file, and
one training through a real CLI in its own run folder.

Imported by bench/claims.py, bench/explanations.py and bench/fsa_accuracy.py (run as scripts, so
this folder is on sys.path).
"""

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from common.data.demo import DEFAULT_SIZES, FASHION_CLASSES, fashion_mnist, make_fashion, \
    write_dataset  # noqa: E402
from common.data.synthetic import clutter, paste, stratified_splits  # noqa: E402
from common.data.where import make_where  # noqa: E402


def heldout_where(folder, decoy, seed=11, per_class=200):
    """A 'where' set whose objects are Fashion-MNIST items (not digits),
    ``per_class`` images a class (the demo's 200: a test split of 150, where
    one error moves accuracy by 0.0067); returns its CSV (masks.npz beside
    it)."""
    images, _ = fashion_mnist("test")
    rng = np.random.default_rng(seed)
    objects = images[rng.permutation(len(images))[:2000]]
    images, labels, splits, spec, masks = make_where(objects, 64, seed, rng, per_class,
                                                         decoy=decoy)
    return write_dataset(folder, images, labels, splits, None,
                         {"masks.json": spec, "masks.npz": masks})


def set_folder(name, per_class):
    """A held-out set's folder name under a bench's --work: a 'where' set of
    another size than the demo's carries its size, so runs of two sizes never
    share a folder (the benches read finished runs instead of training
    again)."""
    sized = per_class is not None and name.startswith("where-")
    return f"{name}-{per_class}" if sized else name


def heldout_set(name, work, per_class=None):
    """The CSV of held-out set ``name`` (``fashion-heldout``, ``wsol-heldout``,
    ``where-heldout``, ``where-plain-heldout``), built under ``work`` once:
    every bench that uses one --work folder reads the same files."""
    folder = os.path.join(work, set_folder(name, per_class))
    csv = os.path.join(folder, "data.csv")
    if os.path.isfile(csv):
        return csv
    if name == "fashion-heldout":
        return heldout_fashion(folder)
    if name == "wsol-heldout":
        return heldout_wsol(folder)
    return heldout_where(folder, decoy=name == "where-heldout", per_class=per_class or 200)


def heldout_fashion(folder, seed=11):
    """The 'fashion' demo built from Fashion-MNIST's test split (images no
    demo run has seen), same size and class balance; returns its CSV."""
    rng = np.random.default_rng(seed)
    return write_dataset(folder, *make_fashion(DEFAULT_SIZES["fashion"], seed, rng,
                                               split="test"))


def heldout_wsol(folder, size=64, per_class=200, seed=11):
    """The 'wsol' demo (an object of a quarter to half the canvas on clutter,
    its box in the CSV) built from Fashion-MNIST test items instead of
    digits: 10 classes, ``per_class`` images each; returns its CSV."""
    items, labels = fashion_mnist("test")
    rng = np.random.default_rng(seed)
    chosen = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:per_class]
                             for c in range(10)])
    images, boxes = [], []
    for i in chosen:
        canvas = clutter(rng, size)
        side = int(rng.integers(size // 4, size // 2 + 1))
        obj = cv2.resize(items[i], (side, side)).astype(np.float32)
        top, left = (int(v) for v in rng.integers(0, size - side + 1, 2))
        boxes.append(paste(canvas, obj, top, left))
        images.append(np.clip(canvas, 0, 255).astype(np.uint8))
    return write_dataset(folder, images, [FASHION_CLASSES[labels[i]] for i in chosen],
                         stratified_splits(labels[chosen], seed), boxes)


def demo_settings(path, command, keep=None):
    """Writes ``command``'s demo settings as a --config file, so a --data set
    trains with the demo's budget; ``keep``: only these keys (another
    command's flags, for a baseline trained with the same settings)."""
    values = {k: v for k, v in command.demo_defaults.items()
              if k != "masks" and (keep is None or k in keep)}
    with open(path, "w") as handle:
        yaml.safe_dump({**values, "weights": "none"}, handle)
    return path


def train(module, args, seed, out, reuse=False):
    """Runs ``python -m module ARGS --seed SEED --output OUT``; returns
    (metrics.json as a dict, or None when the run failed; stderr lines).
    ``reuse``: a finished run already in OUT is read, not trained again."""
    path = os.path.join(out, "metrics.json")
    if reuse and os.path.isfile(path):
        with open(path) as handle:
            return json.load(handle), []
    command = [sys.executable, "-m", module, *args, "--seed", str(seed), "--output", out,
               "--verbose", "0"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": ROOT})
    if not os.path.isfile(path):
        return None, done.stderr.strip().splitlines()[-1:]
    with open(path) as handle:
        return json.load(handle), done.stderr.splitlines()
