"""Reader of the AUC Distracted Driver dataset (``--data auc:PATH``): AG-Net's
"Distracted Driver V1 / V2" (Abouelnaga et al., 2018; Eraqi et al., 2019),
ten classes c0..c9 with a published split by driver. Not State Farm's
Kaggle set, whose test labels are not public.

Layouts, recognised from what PATH holds:

- V1: ``v1_cam1_no_split/c0..c9/*.jpg`` and the published split in
  ``Train_data_list.csv`` / ``Test_data_list.csv`` (beside the image folder
  or inside it). The lists' exact spelling varies between copies, so any
  case of ``train_data_list.csv`` / ``test_data_list.csv`` is accepted; of
  their columns, the first whose header names an image (``image``, ``img``,
  ``path``, ``file``) is the image and the first naming a class (``class``,
  ``label``) its class, ``c3`` or ``3``. An image path is taken relative to
  PATH, else to the image folder, else by its last two parts
  (``c3/name.jpg``), since the published lists hold the authors' absolute
  paths.
- V2: ``Camera 1/{train,test}/c0..c9`` and ``Camera 2/...`` (``Camera1``,
  ``camera_1`` accepted): both cameras; PATH may also be one camera's
  folder (holding ``train/`` and ``test/``) to read that camera alone.

The official test split stays the test split; ``val`` is a seeded,
class-stratified 10 % of the training split (not by driver: the lists do
not name the driver).
"""

import csv
import os
import re

from common.data.annotations import carve_val, table_of
from common.data.tables import IMAGE_EXTENSIONS, DataError

V1_FOLDER = "v1_cam1_no_split"
CLASSES = tuple(f"c{k}" for k in range(10))
_CAMERA = re.compile(r"^camera[ _]?\d+$", re.IGNORECASE)


def _find_file(folders, name):
    for folder in folders:
        if os.path.isdir(folder):
            for entry in sorted(os.listdir(folder)):
                if entry.lower() == name and os.path.isfile(os.path.join(folder, entry)):
                    return os.path.join(folder, entry)
    return None


def _class_name(value, path, line):
    value = value.strip()
    name = value if value.lower().startswith("c") else f"c{value}"
    if name.lower() not in CLASSES:
        raise DataError(f"{path}, line {line}: expected a class c0..c9 or 0..9, got {value!r}")
    return name.lower()


def _image_path(value, root, images):
    value = value.strip().replace("\\", "/")
    tail = os.path.join(*value.split("/")[-2:])
    for candidate in (os.path.join(root, value), os.path.join(images, value),
                      os.path.join(images, tail)):
        if os.path.isfile(candidate):
            return os.path.normpath(candidate)
    return os.path.normpath(os.path.join(images, tail))  # validation names it if missing


def _read_list(path, root, images, split):
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise DataError(f"{path}: empty; expected a header and one image per line")
    header = [h.strip().lower() for h in rows[0]]
    image_column = next((k for k, h in enumerate(header)
                         if any(w in h for w in ("image", "img", "path", "file"))), None)
    class_column = next((k for k, h in enumerate(header)
                         if any(w in h for w in ("class", "label"))), None)
    if image_column is None or class_column is None:
        raise DataError(f"{path}, line 1: expected a header with an image column and a class "
                        f"column, got {rows[0]}")
    table = []
    for line, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(image_column, class_column):
            raise DataError(f"{path}, line {line}: expected {len(header)} fields, got {row}")
        table.append((_image_path(row[image_column], root, images),
                      (_class_name(row[class_column], path, line),), split, ()))
    return table


def _read_v1(root, images):
    folders = (root, images)
    rows = []
    for split in ("train", "test"):
        listing = _find_file(folders, f"{split}_data_list.csv")
        if listing is None:
            raise DataError(f"auc '{root}': V1 layout ('{V1_FOLDER}/') without "
                            f"{split.capitalize()}_data_list.csv beside or inside it")
        rows += _read_list(listing, root, images, split)
    return rows


def _read_camera(folder):
    rows = []
    for split in ("train", "test"):
        base = os.path.join(folder, split)
        if not os.path.isdir(base):
            raise DataError(f"auc '{folder}': expected the folder '{base}' (V2 layout: "
                            "Camera N/train/c0..c9 and Camera N/test/c0..c9)")
        for label in sorted(os.listdir(base)):
            if label.lower() not in CLASSES or not os.path.isdir(os.path.join(base, label)):
                continue
            rows += [(os.path.join(base, label, name), (label.lower(),), split, ())
                     for name in sorted(os.listdir(os.path.join(base, label)))
                     if name.lower().endswith(IMAGE_EXTENSIONS)]
    return rows


def read_auc(root):
    """The AUC Distracted Driver dataset, V1 or V2 (see the module)."""
    images = os.path.join(root, V1_FOLDER)
    if os.path.isdir(images):
        rows = _read_v1(root, images)
    elif os.path.isdir(os.path.join(root, "train")) and os.path.isdir(os.path.join(root, "test")):
        rows = _read_camera(root)
    else:
        cameras = sorted(d for d in os.listdir(root)
                         if _CAMERA.match(d) and os.path.isdir(os.path.join(root, d)))
        if not cameras:
            raise DataError(f"auc '{root}': expected '{V1_FOLDER}/' with the split lists (V1), "
                            "'Camera 1/', 'Camera 2/' (V2) or one camera's train/ and test/")
        rows = [row for camera in cameras for row in _read_camera(os.path.join(root, camera))]
    return carve_val(table_of(rows))


READERS = {"auc": read_auc}
