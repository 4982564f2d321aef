"""Readers of the benchmarks annotated in text files: CUB-200-2011,
FGVC-Aircraft, Food-101, Caltech-256, State Farm, the WSOL protocol."""

import os

import numpy as np

from common.data.annotations import carve_val, number, read_lines, table_of
from common.data.tables import IMAGE_EXTENSIONS, DataError

CALTECH_TRAIN_PER_CLASS = 60  # the usual Caltech-256 protocol (30 or 60 per class)
STATEFARM_FRACTIONS = (0.7, 0.15)  # drivers in train and val; the rest test


def read_cub(root):
    """CUB-200-2011: images.txt, image_class_labels.txt, classes.txt,
    train_test_split.txt, bounding_boxes.txt (x, y, w, h)."""
    file = lambda name: os.path.join(root, name)  # noqa: E731
    classes = {i: name for _, (i, name) in read_lines(file("classes.txt"), 2)}
    images = {i: p for _, (i, p) in read_lines(file("images.txt"), 2)}
    labels = {i: c for _, (i, c) in read_lines(file("image_class_labels.txt"), 2)}
    is_train = {i: t for _, (i, t) in read_lines(file("train_test_split.txt"), 2)}
    boxes = {}
    for line, (i, *xywh) in read_lines(file("bounding_boxes.txt"), 5):
        x, y, w, h = (number(v, file("bounding_boxes.txt"), line) for v in xywh)
        boxes.setdefault(i, []).append((x, y, x + w, y + h))
    rows = []
    for i, path in images.items():
        if i not in labels or labels[i] not in classes or is_train.get(i) not in ("0", "1"):
            raise DataError(f"CUB '{root}': image id {i} lacks a known class or a 0/1 "
                            "train_test_split entry")
        rows.append((os.path.join(root, "images", path), (classes[labels[i]],),
                     "train" if is_train[i] == "1" else "test", tuple(boxes.get(i, ()))))
    return carve_val(table_of(rows))


def read_aircraft(root):
    """FGVC-Aircraft: data/images_variant_{train,val,test}.txt (or trainval),
    data/images_box.txt (xmin ymin xmax ymax, from 1)."""
    data = os.path.join(root, "data")
    boxes = {}
    box_file = os.path.join(data, "images_box.txt")
    for line, (i, *coords) in read_lines(box_file, 5):
        x0, y0, x1, y1 = (number(v, box_file, line) for v in coords)
        boxes[i] = ((x0 - 1, y0 - 1, x1, y1),)
    splits = ("train", "val", "test")
    if not os.path.isfile(os.path.join(data, "images_variant_train.txt")):
        splits = ("trainval", "test")
    rows = []
    for split in splits:
        for _, (i, variant) in read_lines(os.path.join(data, f"images_variant_{split}.txt"), 2):
            rows.append((os.path.join(data, "images", f"{i}.jpg"), (variant,),
                         "train" if split == "trainval" else split, boxes.get(i, ())))
    table = table_of(rows)
    return carve_val(table) if "trainval" in splits else table


def read_food101(root):
    """Food-101: meta/classes.txt, meta/train.txt, meta/test.txt (class/id)."""
    known = {name for _, (name,) in read_lines(os.path.join(root, "meta", "classes.txt"), 1)}
    rows = []
    for split in ("train", "test"):
        listing = os.path.join(root, "meta", f"{split}.txt")
        for line, (entry,) in read_lines(listing, 1):
            name = entry.split("/")[0]
            if name not in known:
                raise DataError(f"{listing}, line {line}: class {name!r} is not in classes.txt")
            rows.append((os.path.join(root, "images", entry + ".jpg"), (name,), split, ()))
    return carve_val(table_of(rows))


def read_caltech256(root, seed=0, train_per_class=CALTECH_TRAIN_PER_CLASS):
    """Caltech-256 class folders (``001.ak47/...``; ``257.clutter`` left out):
    a seeded ``train_per_class`` images per class for training, the rest test."""
    folders = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d))
                     and not d.endswith(".clutter"))
    if not folders:
        raise DataError(f"Caltech-256 '{root}': no class folders")
    rng = np.random.default_rng(seed)
    rows = []
    for folder in folders:
        files = sorted(f for f in os.listdir(os.path.join(root, folder))
                       if f.lower().endswith(IMAGE_EXTENSIONS))
        train = set(rng.permutation(len(files))[:train_per_class].tolist())
        rows += [(os.path.join(root, folder, f), (folder,), "train" if k in train else "test",
                  ()) for k, f in enumerate(files)]
    return carve_val(table_of(rows))


def read_statefarm(root, seed=0, fractions=STATEFARM_FRACTIONS):
    """State Farm: driver_imgs_list.csv (subject,classname,img), images in
    imgs/train/<class>/. Split by driver (seeded): no driver is in two
    splits, so val and test are unseen drivers, as in the FSA paper."""
    listing = os.path.join(root, "driver_imgs_list.csv")
    lines = read_lines(listing, 3, separator=",")
    if not lines or lines[0][1] != ["subject", "classname", "img"]:
        raise DataError(f"{listing}, line 1: expected the header subject,classname,img")
    drivers = sorted({parts[0] for _, parts in lines[1:]})
    if len(drivers) < 3:
        raise DataError(f"{listing}: {len(drivers)} driver(s); a split by driver needs 3")
    order = np.random.default_rng(seed).permutation(drivers).tolist()
    n_train = max(1, int(round(fractions[0] * len(order))))
    n_val = max(1, int(round(fractions[1] * len(order))))
    n_train = min(n_train, len(order) - 2)
    split_of = {d: "train" if k < n_train else "val" if k < n_train + n_val else "test"
                for k, d in enumerate(order)}
    rows = [(os.path.join(root, "imgs", "train", label, image), (label,), split_of[driver], ())
            for _, (driver, label, image) in lines[1:]]
    table = table_of(rows)
    table["driver"] = [parts[0] for _, parts in lines[1:]]
    return table


def read_wsol(root):
    """The WSOL protocol's metadata/<DATASET> folder (train/, val/, test/,
    each with image_ids.txt, class_labels.txt, localization.txt); images in
    the protocol's sibling dataset/<DATASET> folder."""
    from common.data.wsol import read_wsol_metadata
    images = os.path.normpath(os.path.join(root, "..", "..", "dataset", os.path.basename(root)))
    if not os.path.isdir(images):
        raise DataError(f"wsol '{root}': expected the images in '{images}' (the protocol's "
                        "layout: metadata/<DATASET> beside dataset/<DATASET>)")
    parts = []
    for split in ("train", "val", "test"):
        table, _ = read_wsol_metadata(os.path.join(root, split), images)
        table["split"] = split
        parts.append(table)
    import pandas as pd
    return pd.concat(parts, ignore_index=True)


READERS = {"cub": read_cub, "aircraft": read_aircraft, "food101": read_food101,
           "caltech256": read_caltech256, "statefarm": read_statefarm, "wsol": read_wsol}
