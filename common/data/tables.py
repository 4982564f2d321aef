"""Datasets as *tables*: a class-per-folder tree or a CSV read into pandas,
one row per image: ``path`` (absolute), ``labels`` (tuple of class names),
``split`` (train/val/test or empty) and ``boxes`` (tuple of pixel
``(x0, y0, x1, y1)``)."""

import os

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
MAX_LINE = 65536  # bytes in one line of a CSV or annotation file: a path, labels, boxes
BOX_COLUMNS = ["x0", "y0", "x1", "y1"]
# Optional per-image mask files (relative to the CSV, empty for none): where the
# model must not look (ignore) and where it should (attend), for the guides.
MASK_COLUMNS = ("ignore", "attend")

from common.errors import ArgumentError


class DataError(ArgumentError):
    """Bad input data; the message names the files and what was expected
    (and the argument that gave them, ``data``, where one did)."""


def format_listing(items, limit=10):
    """The first ``limit`` items joined by "; ", then how many more there are."""
    items = list(items)
    shown = "; ".join(str(i) for i in items[:limit])
    return shown + (f"; ... and {len(items) - limit} more" if len(items) > limit else "")


def check_line_lengths(path):
    """DataError naming ``path`` and the line if a line is longer than
    ``MAX_LINE`` bytes (a huge field: no dataset line needs one); it reads
    at most ``MAX_LINE`` bytes at a time."""
    with open(path, "rb") as handle:
        for number, line in enumerate(iter(lambda: handle.readline(MAX_LINE + 1), b""), 1):
            if len(line.rstrip(b"\r\n")) > MAX_LINE:
                raise DataError(f"'{path}', line {number}: longer than {MAX_LINE} bytes "
                                "(a huge field?)")


def read_folder(root):
    """Table of a folder with one sub-folder of images per class."""
    if not os.path.isdir(root):
        raise DataError(f"'{root}' is neither a CSV file nor a folder", "data")
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    if not classes:
        raise DataError(f"folder '{root}' has no class sub-folders", "data")
    rows, empty = [], []
    for name in classes:
        folder = os.path.join(root, name)
        files = sorted(f for f in os.listdir(folder)
                       if f.lower().endswith(IMAGE_EXTENSIONS))
        if not files:
            empty.append(folder)
        rows += [(os.path.join(folder, f), (name,), "", ()) for f in files]
    if empty:
        raise DataError(f"empty class folders (no {'/'.join(IMAGE_EXTENSIONS)} images): "
                        f"{format_listing(empty)}")
    return pd.DataFrame(rows, columns=["path", "labels", "split", "boxes"]), classes


def read_csv(csv_path):
    """Table of a CSV with columns ``path,label`` and optional ``split``,
    ``x0,y0,x1,y1`` and mask columns ``ignore`` / ``attend`` (a mask image
    per row, white where the annotation holds). Several rows for one image
    give it several boxes (same label) or several labels (multi-label).
    Paths are relative to the CSV."""
    try:
        check_line_lengths(csv_path)
        frame = pd.read_csv(csv_path, dtype={"label": str, "path": str,
                                             **{c: str for c in MASK_COLUMNS}})
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataError(f"cannot read CSV '{csv_path}': {error}", "data") from error
    missing = {"path", "label"} - set(frame.columns)
    if missing:
        raise DataError(f"CSV '{csv_path}' lacks column(s) {sorted(missing)}; expected "
                        "path,label[,split][,x0,y0,x1,y1]")
    has_boxes = set(BOX_COLUMNS) <= set(frame.columns)
    if "split" not in frame.columns:
        frame["split"] = ""
    frame["split"] = frame["split"].fillna("").astype(str).str.strip().str.lower()
    bad_split = sorted(set(frame["split"]) - {"", "train", "val", "test"})
    if bad_split:
        raise DataError(f"CSV '{csv_path}': split must be train, val or test; got {bad_split}")
    if frame["label"].isna().any():
        rows = (frame.index[frame["label"].isna()] + 2).tolist()
        raise DataError(f"CSV '{csv_path}': empty label on line(s) {format_listing(rows)}")
    base = os.path.dirname(os.path.abspath(csv_path))
    frame["path"] = [os.path.normpath(os.path.join(base, p)) for p in frame["path"]]
    masks = [c for c in MASK_COLUMNS if c in frame.columns]
    for column in masks:
        frame[column] = [os.path.normpath(os.path.join(base, p)) if isinstance(p, str)
                         and p.strip() else "" for p in frame[column]]
    rows = []
    for path, group in frame.groupby("path", sort=False):
        boxes = ()
        if has_boxes:
            valid = group[BOX_COLUMNS].dropna()
            boxes = tuple(tuple(float(v) for v in row) for row in valid.to_numpy())
        rows.append((path, tuple(sorted(set(group["label"]))), group["split"].iloc[0], boxes,
                     *(group[c].iloc[0] for c in masks)))
    table = pd.DataFrame(rows, columns=["path", "labels", "split", "boxes", *masks])
    classes = sorted({label for labels in table["labels"] for label in labels})
    return table, classes


def read_table(data):
    """Table and sorted class names of a CSV file or a class-per-folder tree."""
    if str(data).lower().endswith(".csv"):
        if not os.path.isfile(data):
            raise DataError(f"CSV file '{data}' does not exist", "data")
        return read_csv(data)
    return read_folder(data)


def is_multi_label(table):
    return bool(table["labels"].map(len).gt(1).any())


def split_table(table, seed=0, val_fraction=0.1, test_fraction=0.1):
    """(train, val, test) tables: the CSV's split column where given, else a
    seeded split stratified by class."""
    if table["split"].ne("").all():
        parts = [table[table["split"] == s].reset_index(drop=True)
                 for s in ("train", "val", "test")]
        if len(parts[0]) == 0:
            raise DataError("the data's split column names no 'train' rows")
        return tuple(parts)
    if len(table) < 3:
        raise DataError(f"{len(table)} image(s) cannot be split into train, val and test; "
                        "give a CSV with a split column or more images")
    strata = table["labels"].map(lambda labels: labels[0])
    smallest_split = len(table) * min(val_fraction, test_fraction)
    can_stratify = (strata.value_counts().min() >= 3
                    and smallest_split >= strata.nunique())
    rest, test = train_test_split(table, test_size=test_fraction, random_state=seed,
                                  stratify=strata if can_stratify else None)
    train, val = train_test_split(rest, test_size=val_fraction / (1 - test_fraction),
                                  random_state=seed,
                                  stratify=strata[rest.index] if can_stratify else None)
    return tuple(t.reset_index(drop=True) for t in (train, val, test))


def check_classes_present(train, class_names):
    """Every class needs training images."""
    seen = {label for labels in train["labels"] for label in labels}
    empty = [name for name in class_names if name not in seen]
    if empty:
        raise DataError(f"class(es) with no training images: {empty}")


def encode_labels(table, class_names, multi_label=False):
    """int (N,) class indices, or multi-hot float32 (N, C) when multi_label."""
    index = {name: i for i, name in enumerate(class_names)}
    if not multi_label:
        return np.array([index[labels[0]] for labels in table["labels"]], np.int32)
    hot = np.zeros((len(table), len(class_names)), np.float32)
    for row, labels in enumerate(table["labels"]):
        hot[row, [index[label] for label in labels]] = 1.0
    return hot
