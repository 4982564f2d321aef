"""What the accuracy benchmarks share: held-out data sets built like the
demos from other images, a method's demo settings as a --config file, and
one training through a real CLI in its own run folder.

Imported by bench/claims.py, bench/explanations.py and bench/fsa_accuracy.py (run as scripts, so
this folder is on sys.path).
"""

import glob
import importlib.util
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from common.data.demo import DEFAULT_SIZES, FASHION_CLASSES, fashion_mnist, \
    make_fashion, make_wsol, write_dataset  # noqa: E402
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
    """The CSV of held-out set ``name`` (``fashion-heldout``,
    ``fashion-heldout-b``, ``digits-clutter``, ``photo-crops``, ``wsol-heldout``,
    ``where-heldout``, ``where-plain-heldout``), built under ``work`` once:
    every bench that uses one --work folder reads the same files."""
    folder = os.path.join(work, set_folder(name, per_class))
    csv = os.path.join(folder, "data.csv")
    if os.path.isfile(csv):
        return csv
    if name == "fashion-heldout":
        return heldout_fashion(folder)
    if name == "fashion-heldout-b":
        return heldout_fashion(folder, second=True)
    if name == "digits-clutter":
        return heldout_digits_on_clutter(folder)
    if name == "photo-crops":
        return photo_crops(folder)
    if name == "wsol-heldout":
        return heldout_wsol(folder)
    return heldout_where(folder, decoy=name == "where-heldout", per_class=per_class or 200)


def heldout_fashion(folder, seed=11, second=False, per_class=300):
    """The 'fashion' demo built from Fashion-MNIST's test split (images no
    demo run has seen), same size and class balance; returns its CSV.

    ``second``: another such set (``fashion-heldout-b``) from the next
    ``per_class`` test images of each class in the same draw, so no image is
    in both."""
    rng = np.random.default_rng(seed)  # the same draw; the second set takes the next images
    return write_dataset(folder, *make_fashion(
        DEFAULT_SIZES["fashion"], seed + 1 if second else seed, rng, per_class, split="test",
        offset=per_class if second else 0))


def photo_crops(folder, size=128, train=40, val=10, test=20, seed=11):
    """Photographs: foolbox's 20 ImageNet photos (512 px, one per ImageNet
    class), a class each. Square crops of a quarter to a third of the side
    at random places: ``train`` a class from the left 65 % of its photo,
    ``val`` and ``test`` from the right 35 %, so a test crop shows a part of
    the scene no training crop overlaps. Saved at ``size`` px; returns the
    CSV. The largest labelled photographic set found offline (the other
    photos here, scikit-image's, are single images of unrelated things)."""
    spec = importlib.util.find_spec("foolbox")  # its data only: importing it needs eagerpy
    if spec is None:
        raise FileNotFoundError("photo-crops: pip install --no-deps foolbox==3.3.4")
    paths = sorted(glob.glob(os.path.join(os.path.dirname(spec.origin), "data",
                                          "imagenet_*.jpg")))
    rng = np.random.default_rng(seed)
    images, labels, splits = [], [], []
    for path in paths:
        photo = cv2.imread(path)
        side_max = photo.shape[1]
        cut = int(round(0.65 * side_max))
        for split, count, (low, high) in (("train", train, (0, cut)), ("val", val, (cut, side_max)),
                                          ("test", test, (cut, side_max))):
            for _ in range(count):
                side = int(rng.integers(side_max // 4, min(side_max // 3, high - low) + 1))
                x = int(rng.integers(low, high - side + 1))
                y = int(rng.integers(0, photo.shape[0] - side + 1))
                images.append(cv2.resize(photo[y:y + side, x:x + side], (size, size),
                                         interpolation=cv2.INTER_AREA))
                labels.append(os.path.basename(path)[:-4].split("_", 1)[1])
                splits.append(split)
    return write_dataset(folder, images, labels, splits)


def heldout_digits_on_clutter(folder, size=64, seed=11):
    """Not Fashion-MNIST at all: scikit-learn's 1797 digits (8x8, upscaled),
    each a quarter to half of a 64 px canvas of clutter at a random place:
    10 classes, about 180 images each; FAM's 'wsol' demo with another seed
    (no AG-Net demo or bench uses it), without the boxes. Returns its CSV."""
    images, labels, splits, _, _ = make_wsol(size, seed, np.random.default_rng(seed))
    return write_dataset(folder, images, labels, splits)


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
    (metrics.json as a dict, or None when the run wrote none; stderr lines).
    A run that wrote its metrics and still failed (stuck at chance, dead
    CAMs: its FAILED note) has the note's first line as ``metrics["failed"]``.
    ``reuse``: a finished run already in OUT is read, not trained again."""
    path = os.path.join(out, "metrics.json")
    if reuse and os.path.isfile(path):
        return _metrics(out), []
    command = [sys.executable, "-m", module, *args, "--seed", str(seed), "--output", out,
               "--verbose", "0"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": ROOT})
    if not os.path.isfile(path):
        return None, done.stderr.strip().splitlines()[-1:]
    return _metrics(out), done.stderr.splitlines()


def _metrics(out):
    with open(os.path.join(out, "metrics.json")) as handle:
        metrics = json.load(handle)
    failed = os.path.join(out, "FAILED")
    if os.path.isfile(failed):
        with open(failed) as handle:
            metrics["failed"] = (handle.read().strip().splitlines() or ["(no reason)"])[0]
    return metrics
