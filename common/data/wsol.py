"""The metadata folders of Choe et al.'s WSOL protocol as a table."""

import os

import pandas as pd

from common.data.tables import DataError, format_listing


def read_wsol_metadata(metadata_dir, image_root):
    """Table and class names of a metadata folder in the format of Choe et
    al.'s public WSOL code (``image_ids.txt``; ``class_labels.txt``:
    ``id,label``; ``localization.txt``: ``id,x0,y0,x1,y1``, one line per
    box, or OpenImages' ``id,mask_path,ignore_path``, one line per instance
    mask, paths under ``image_root``: columns ``masks`` and ``ignore``), so
    CUB-200-2011, ImageNet and OpenImages users can reuse their files. Labels
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
    boxes, masks, ignores = {}, {}, {}
    for number, line in enumerate(lines("localization.txt", required=False), 1):
        image_id, *fields = [field.strip() for field in line.split(",")]
        if len(fields) == 2:  # OpenImages: id,mask_path,ignore_path (PxAP)
            masks.setdefault(image_id, []).append(os.path.join(image_root, fields[0]))
            ignores[image_id] = os.path.join(image_root, fields[1]) if fields[1] else ""
            continue
        try:
            box = tuple(float(v) for v in fields)
        except ValueError:
            box = ()
        if len(box) != 4:
            raise DataError(f"{os.path.join(metadata_dir, 'localization.txt')}, line {number}: "
                            f"expected id,x0,y0,x1,y1 or id,mask_path,ignore_path, got {line!r}")
        boxes.setdefault(image_id, []).append(box)
    missing = [i for i in ids if i not in labels]
    if missing:
        raise DataError(f"class_labels.txt in '{metadata_dir}' has no label for "
                        f"{format_listing(missing)}")
    table = pd.DataFrame({"path": [os.path.join(image_root, i) for i in ids],
                          "labels": [(labels[i].strip(),) for i in ids], "split": "",
                          "boxes": [tuple(boxes.get(i, ())) for i in ids]})
    if masks:
        table["masks"] = [tuple(masks.get(i, ())) for i in ids]
        table["ignore"] = [ignores.get(i, "") for i in ids]
    classes = sorted({labels[0] for labels in table["labels"]}, key=lambda c: (len(c), c))
    return table, classes
