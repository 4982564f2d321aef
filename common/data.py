"""Datasets from a class-per-folder tree or a CSV file, validated before
training, as batched ``tf.data`` pipelines of float32 RGB images in [0, 1].

A dataset is first read into a *table* (pandas, one row per image):
``path`` (absolute), ``labels`` (tuple of class names), ``split``
(train/val/test or empty) and ``boxes`` (tuple of pixel ``(x0, y0, x1, y1)``).
"""

import os
import sys
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pandas as pd
import tensorflow as tf
from sklearn.model_selection import train_test_split
from tqdm.auto import tqdm

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
BOX_COLUMNS = ["x0", "y0", "x1", "y1"]


class DataError(ValueError):
    """Bad input data; the message names the files and what was expected."""


def _listing(items, limit=10):
    items = list(items)
    shown = "; ".join(str(i) for i in items[:limit])
    return shown + (f"; ... and {len(items) - limit} more" if len(items) > limit else "")


def read_folder(root):
    """Table of a folder with one sub-folder of images per class."""
    if not os.path.isdir(root):
        raise DataError(f"--data: '{root}' is neither a CSV file nor a folder")
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    if not classes:
        raise DataError(f"--data: folder '{root}' has no class sub-folders")
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
                        f"{_listing(empty)}")
    return pd.DataFrame(rows, columns=["path", "labels", "split", "boxes"]), classes


def read_csv(csv_path):
    """Table of a CSV with columns ``path,label`` and optional ``split`` and
    ``x0,y0,x1,y1``. Several rows for one image give it several boxes (same
    label) or several labels (multi-label). Paths are relative to the CSV."""
    try:
        frame = pd.read_csv(csv_path, dtype={"label": str, "path": str})
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataError(f"--data: cannot read CSV '{csv_path}': {error}") from error
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
        raise DataError(f"CSV '{csv_path}': empty label on line(s) {_listing(rows)}")
    base = os.path.dirname(os.path.abspath(csv_path))
    frame["path"] = [os.path.normpath(os.path.join(base, p)) for p in frame["path"]]
    rows = []
    for path, group in frame.groupby("path", sort=False):
        boxes = ()
        if has_boxes:
            valid = group[BOX_COLUMNS].dropna()
            boxes = tuple(tuple(float(v) for v in row) for row in valid.to_numpy())
        rows.append((path, tuple(sorted(set(group["label"]))), group["split"].iloc[0], boxes))
    table = pd.DataFrame(rows, columns=["path", "labels", "split", "boxes"])
    classes = sorted({label for labels in table["labels"] for label in labels})
    return table, classes


def read_table(data):
    """Table and sorted class names of a CSV file or a class-per-folder tree."""
    if str(data).lower().endswith(".csv"):
        if not os.path.isfile(data):
            raise DataError(f"--data: CSV file '{data}' does not exist")
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


def _inspect(path):
    """(height, width) of a readable image, or a reason it is bad."""
    if not os.path.isfile(path):
        return "missing file"
    if not path.lower().endswith(IMAGE_EXTENSIONS):
        return f"not a {'/'.join(IMAGE_EXTENSIONS)} image"
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        return f"unreadable ({error.strerror})"
    if path.lower().endswith(".gif"):
        frames = cv2.imdecodemulti(raw, cv2.IMREAD_UNCHANGED)
        image = frames[1][0] if frames and frames[0] else None
    else:
        image = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED)
    if image is None:
        return "corrupt or not an image"
    return image.shape[:2]


def check_images(paths):
    """Raises one DataError naming every path that is not a readable image
    (for commands that take image files on the command line)."""
    bad = [f"{path} ({reason})" for path in paths if isinstance(reason := _inspect(path), str)]
    if bad:
        raise DataError(f"bad image(s): {'; '.join(bad)}")


def validate(table, class_names, skip_bad=False, what="data"):
    """Checks every image before training: missing, unreadable or corrupt
    files, labels outside ``class_names``, boxes outside the image, classes
    without images. Raises one DataError listing the offenders, or with
    ``skip_bad`` warns on stderr and returns the table without them."""
    known = set(class_names)
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        shapes = list(tqdm(pool.map(_inspect, table["path"]), total=len(table),
                           desc=f"checking {what} images", leave=False,
                           disable=True if len(table) < 500 else None))
    problems = {}  # row position -> reason
    for i, (row, shape) in enumerate(zip(table.itertuples(), shapes)):
        if isinstance(shape, str):
            problems[i] = shape
            continue
        unknown = [label for label in row.labels if label not in known]
        if unknown:
            problems[i] = f"label(s) {unknown} not in the class list {class_names}"
            continue
        height, width = shape
        for x0, y0, x1, y1 in row.boxes:
            if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
                problems[i] = (f"box {(x0, y0, x1, y1)} outside the {width}x{height} "
                               "image (expected 0 <= x0 < x1 <= width, 0 <= y0 < y1 <= height)")
                break
    if problems:
        paths = table["path"].to_numpy()
        lines = [f"{paths[i]}: {reason}" for i, reason in problems.items()]
        if not skip_bad:
            raise DataError(f"{len(problems)} bad {what} image(s) (use --skip-bad-images "
                            f"to train on the rest): {_listing(lines)}")
        print(f"warning: skipping {len(problems)} bad {what} image(s): {_listing(lines)}",
              file=sys.stderr)
        keep = np.ones(len(table), bool)
        keep[list(problems)] = False
        table = table[keep].reset_index(drop=True)
    return table


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


def decode_image(path, image_size):
    """File -> (H, W, 3) float32 in [0, 1]; grey and RGBA become RGB."""
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    image = tf.image.resize(tf.cast(image, tf.float32) / 255.0, image_size, antialias=True)
    return tf.clip_by_value(image, 0.0, 1.0)


def make_dataset(table, class_names, image_size, batch_size, training=False,
                 augment=None, multi_label=False, extra_inputs=None, seed=0, cache=None):
    """Batched, prefetched ``tf.data.Dataset`` of ``(image, label)``.

    Args:
        image_size: int or (H, W).
        batch_size: the global batch size.
        training: shuffle (seeded) and apply ``augment``.
        augment: a callable on batches of images (e.g. ``build_augmentation``),
            or on the whole inputs dict if it has ``takes_inputs = True``.
        extra_inputs: optional dict name -> array aligned with the table's
            rows; the inputs then become ``{"image": ..., name: ...}``.
        cache: keep decoded images in memory; default when they fit in 1 GiB.
    """
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    labels = encode_labels(table, class_names, multi_label)
    paths = table["path"].to_numpy().astype(str)
    sources = (paths, labels) if extra_inputs is None else (paths, labels, extra_inputs)
    data = tf.data.Dataset.from_tensor_slices(sources)

    def load(path, label, extra=None):
        image = decode_image(path, image_size)
        return (image, label) if extra is None else ({"image": image, **extra}, label)

    data = data.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if cache is None:
        cache = len(table) * image_size[0] * image_size[1] * 3 * 4 < 2 ** 30
    if cache:
        data = data.cache()
    if training:
        data = data.shuffle(min(len(table), 10000), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size)
    if training and augment is not None:
        def apply(inputs, label):
            if getattr(augment, "takes_inputs", False):
                return augment(inputs, training=True), label  # e.g. moves boxes too
            if isinstance(inputs, dict):
                return {**inputs, "image": augment(inputs["image"], training=True)}, label
            return augment(inputs, training=True), label
        data = data.map(apply, num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)


def read_wsol_metadata(metadata_dir, image_root):
    """Table and class names of a metadata folder in the format of Choe et
    al.'s public WSOL code (``image_ids.txt``; ``class_labels.txt``:
    ``id,label``; ``localization.txt``: ``id,x0,y0,x1,y1``, one line per
    box), so CUB-200-2011 and ImageNet users can reuse their files. Labels
    are the integer class ids, as strings; ``image_sizes.txt`` is not needed
    (sizes are read from the images)."""
    def lines(name, required=True):
        path = os.path.join(metadata_dir, name)
        if not os.path.isfile(path):
            if required:
                raise DataError(f"WSOL metadata folder '{metadata_dir}' lacks {name}")
            return []
        with open(path) as handle:
            return [line.strip() for line in handle if line.strip()]

    ids = lines("image_ids.txt")
    labels = dict(line.rsplit(",", 1) for line in lines("class_labels.txt"))
    boxes = {}
    for line in lines("localization.txt", required=False):
        image_id, *coords = line.split(",")
        boxes.setdefault(image_id, []).append(tuple(float(v) for v in coords))
    missing = [i for i in ids if i not in labels]
    if missing:
        raise DataError(f"class_labels.txt in '{metadata_dir}' has no label for "
                        f"{_listing(missing)}")
    table = pd.DataFrame({"path": [os.path.join(image_root, i) for i in ids],
                          "labels": [(labels[i].strip(),) for i in ids], "split": "",
                          "boxes": [tuple(boxes.get(i, ())) for i in ids]})
    classes = sorted({l[0] for l in table["labels"]}, key=lambda c: (len(c), c))
    return table, classes
