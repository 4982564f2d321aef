"""Readers of the benchmarks annotated in MATLAB or XML files or by folder
layout: Stanford Cars, Stanford-40 Actions, PPMI, ImageNet, PASCAL VOC 2007.

XML goes through ``defusedxml``: entity declarations (billion laughs) and
external entities are refused, not expanded or fetched."""

import os

import defusedxml
import defusedxml.ElementTree as ElementTree
import numpy as np

from common.data.annotations import carve_val, number, read_lines, table_of
from common.data.tables import IMAGE_EXTENSIONS, DataError

VOC_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
               "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
               "sheep", "sofa", "train", "tvmonitor")
IMAGENET_VAL_PER_CLASS = 10  # training images per class moved to val (seeded)


CARS_FIELDS = ("bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "fname")


def _mat(path, key):
    """Variable ``key`` of a MATLAB file (v5 or older; v7.3 is HDF5)."""
    import scipy.io
    from scipy.io.matlab import MatReadError
    if not os.path.isfile(path):
        raise DataError(f"cars: missing annotation file '{path}'")
    try:
        return scipy.io.loadmat(path, squeeze_me=True)[key]
    except (ValueError, KeyError, TypeError, OSError, MatReadError,
            NotImplementedError) as error:
        raise DataError(f"{path}: expected a MATLAB file with '{key}' ({error})") from None


def _cars_names(path):
    names = np.atleast_1d(_mat(path, "class_names"))
    if names.ndim != 1 or not all(isinstance(n, str) for n in names):
        raise DataError(f"{path}: expected 'class_names' to be a list of strings, got "
                        f"{names.dtype} of shape {names.shape}")
    return [str(n) for n in names]


def _cars_records(path):
    records = np.atleast_1d(_mat(path, "annotations")).reshape(-1)
    missing = sorted(set(CARS_FIELDS) - set(records.dtype.names or ()))
    if missing:
        raise DataError(f"{path}: expected 'annotations' to be a struct array with fields "
                        f"{list(CARS_FIELDS)}; it lacks {missing}")
    return records


def read_cars(root):
    """Stanford Cars: devkit/cars_meta.mat, devkit/cars_train_annos.mat,
    cars_test_annos_withlabels.mat (boxes from 1, classes from 1)."""
    names = _cars_names(os.path.join(root, "devkit", "cars_meta.mat"))
    rows = []
    for split, annos, folder in (
            ("train", os.path.join(root, "devkit", "cars_train_annos.mat"), "cars_train"),
            ("test", os.path.join(root, "cars_test_annos_withlabels.mat"), "cars_test")):
        for k, record in enumerate(_cars_records(annos)):
            try:
                number = int(record["class"])
                if not 1 <= number <= len(names):
                    raise IndexError(f"class {number} is not in 1..{len(names)}")
                label = names[number - 1]
                box = tuple(float(record[f]) for f in CARS_FIELDS[:4])
            except (ValueError, IndexError, TypeError) as error:
                raise DataError(f"{annos}, annotation {k + 1}: {error}") from None
            rows.append((os.path.join(root, folder, str(record["fname"])), (label,), split,
                         ((box[0] - 1, box[1] - 1, box[2], box[3]),)))
    return carve_val(table_of(rows))


def _xml_boxes(path, one_based=False, names=None):
    """(class name, box) of every object of a VOC-style XML file."""
    try:
        root = ElementTree.parse(path).getroot()
    except (ElementTree.ParseError, defusedxml.DefusedXmlException, OSError) as error:
        raise DataError(f"{path}: not a readable annotation XML ({error})") from None
    found = []
    for obj in root.iter("object"):
        box = obj.find("bndbox")
        try:
            x0, y0, x1, y1 = (float(box.find(t).text) for t in ("xmin", "ymin", "xmax", "ymax"))
        except (AttributeError, TypeError, ValueError):
            raise DataError(f"{path}: an <object> lacks a numeric bndbox") from None
        offset = 1 if one_based else 0
        name = (obj.findtext("name") or "").strip()
        if names is None or name in names:
            found.append((name, (x0 - offset, y0 - offset, x1, y1)))
    return found


def read_stanford40(root):
    """Stanford-40 Actions: ImageSplits/<action>_{train,test}.txt (file
    names), XMLAnnotations/<name>.xml (person boxes), JPEGImages/."""
    splits = os.path.join(root, "ImageSplits")
    if not os.path.isdir(splits):
        raise DataError(f"stanford40 '{root}': missing folder '{splits}'")
    actions = sorted(f[:-len("_train.txt")] for f in os.listdir(splits)
                     if f.endswith("_train.txt"))
    rows = []
    for action in actions:
        for split in ("train", "test"):
            for _, (name,) in read_lines(os.path.join(splits, f"{action}_{split}.txt"), 1):
                xml = os.path.join(root, "XMLAnnotations", os.path.splitext(name)[0] + ".xml")
                boxes = tuple(b for _, b in _xml_boxes(xml)) if os.path.isfile(xml) else ()
                rows.append((os.path.join(root, "JPEGImages", name), (action,), split, boxes))
    return carve_val(table_of(rows))


def read_ppmi(root):
    """PPMI: {play_instrument,with_instrument}/<instrument>/{train,test}/
    (optionally under norm_image/): 24 classes ``<group>/<instrument>``."""
    base = os.path.join(root, "norm_image") if os.path.isdir(
        os.path.join(root, "norm_image")) else root
    rows = []
    for group in ("play_instrument", "with_instrument"):
        folder = os.path.join(base, group)
        if not os.path.isdir(folder):
            raise DataError(f"ppmi '{root}': missing folder '{folder}'")
        for instrument in sorted(os.listdir(folder)):
            for split in ("train", "test"):
                images = os.path.join(folder, instrument, split)
                if os.path.isdir(images):
                    rows += [(os.path.join(images, f), (f"{group}/{instrument}",), split, ())
                             for f in sorted(os.listdir(images))
                             if f.lower().endswith(IMAGE_EXTENSIONS)]
    return carve_val(table_of(rows))


def read_imagenet(root):
    """ILSVRC-2012: train/<wnid>/ images; the validation images (val/), the
    test split here, labelled and boxed by LOC_val_solution.csv or by the
    per-image XML files in val/ or Annotations/val/. Val: a seeded
    ``IMAGENET_VAL_PER_CLASS`` training images per class."""
    train = os.path.join(root, "train")
    if not os.path.isdir(train):
        raise DataError(f"imagenet '{root}': missing folder '{train}'")
    rows = []
    for wnid in sorted(os.listdir(train)):
        folder = os.path.join(train, wnid)
        if os.path.isdir(folder):
            rows += [(os.path.join(folder, f), (wnid,), "train", ())
                     for f in sorted(os.listdir(folder)) if f.lower().endswith(IMAGE_EXTENSIONS)]
    classes = {r[1][0] for r in rows}
    solution = os.path.join(root, "LOC_val_solution.csv")
    if os.path.isfile(solution):
        for line, (image_id, prediction) in read_lines(solution, 2, separator=",")[1:]:
            fields = prediction.split()
            if not fields or len(fields) % 5:
                raise DataError(f"{solution}, line {line}: expected 'wnid x0 y0 x1 y1' groups")
            boxes = tuple(tuple(number(v, solution, line) for v in fields[k + 1:k + 5])
                          for k in range(0, len(fields), 5))
            rows.append((os.path.join(root, "val", image_id + ".JPEG"), (fields[0],), "test",
                         boxes))
    else:
        folder = next((f for f in (os.path.join(root, "Annotations", "val"),
                                   os.path.join(root, "val")) if os.path.isdir(f)), None)
        if folder is None:
            raise DataError(f"imagenet '{root}': neither LOC_val_solution.csv nor XML files")
        for name in sorted(f for f in os.listdir(folder) if f.endswith(".xml")):
            objects = _xml_boxes(os.path.join(folder, name), names=classes)
            if objects:
                rows.append((os.path.join(root, "val", name[:-4] + ".JPEG"), (objects[0][0],),
                             "test", tuple(b for _, b in objects)))
    table = table_of(rows)
    fraction = min(1.0, IMAGENET_VAL_PER_CLASS / max(1, (table["split"] == "train").sum()
                                                       / max(1, len(classes))))
    return carve_val(table, fraction)


def read_voc2007(root):
    """PASCAL VOC 2007, multi-label: ImageSets/Main/<class>_<split>.txt
    (1 present, -1 absent, 0 difficult: listed in ``difficult``, not a
    label), splits train, val, test; boxes of every object from
    Annotations/<id>.xml (from 1)."""
    main = os.path.join(root, "ImageSets", "Main")
    labels, difficult, split_of = {}, {}, {}
    for split in ("train", "val", "test"):
        for name in VOC_CLASSES:
            path = os.path.join(main, f"{name}_{split}.txt")
            for line, (image_id, flag) in read_lines(path, 2):
                if flag not in ("1", "-1", "0"):
                    raise DataError(f"{path}, line {line}: expected 1, -1 or 0, got {flag!r}")
                split_of[image_id] = split
                target = labels if flag == "1" else difficult if flag == "0" else None
                if target is not None:
                    target.setdefault(image_id, []).append(name)
    rows = []
    for image_id, split in split_of.items():
        if image_id not in labels:
            continue  # only difficult objects: nothing to learn from
        xml = os.path.join(root, "Annotations", image_id + ".xml")
        boxes = tuple(b for _, b in _xml_boxes(xml, one_based=True))
        rows.append((os.path.join(root, "JPEGImages", image_id + ".jpg"),
                     tuple(sorted(labels[image_id])), split, boxes))
    table = table_of(rows)
    table["difficult"] = [tuple(sorted(difficult.get(os.path.basename(p)[:-4], ())))
                          for p in table["path"]]
    return table


READERS = {"cars": read_cars, "stanford40": read_stanford40, "ppmi": read_ppmi,
           "imagenet": read_imagenet, "voc2007": read_voc2007}
