"""What the guides of a run need from its data (``Trainer.annotations``:
{annotation: the flag that asked for it}): checked before training, then
read per row (``mask_paths``, ``normalised_boxes``). The guides themselves
come from their flag groups (``common.training.guide_groups``)."""

from common.data.image_header import file_size
from common.training.cli import ConfigError

GEOMETRIC = ("flip", "rotation", "translation", "zoom", "crop_from")


def check_boxes_stay(settings, annotations):
    """A guide that reads boxes (box energy) needs boxes that stay on their
    objects: no geometric augmentation with it (said before the data loads)."""
    flag = annotations.get("boxes")
    if flag:
        moved = [f"--{name.replace('_', '-')}" for name in GEOMETRIC
                 if settings[name] not in (None, 0.0, "none")]
        if moved:
            raise ConfigError(f"{flag}: the boxes do not move with {', '.join(moved)}; "
                              "train a guide that reads boxes without geometric augmentation")


def check_annotations(annotations, table, source):
    """A guide that reads an annotation the data does not have would train
    with a zero term: refused in one line, before training."""
    from common.data.tables import DataError
    for name, flag in annotations.items():
        present = (table["boxes"].map(len).gt(0).any() if name == "boxes"
                   else name in table and table[name].ne("").any())
        if not present:
            what = ("x0,y0,x1,y1 box columns" if name == "boxes"
                    else f"an '{name}' column naming a mask image per row")
            raise DataError(f"{flag}: '{source}' has no {name} for any image; its guide needs "
                            f"a CSV with {what}")


def guide_inputs(annotations, table):
    """{name: per-row arrays} only guides read, in training and validation
    (``boxes`` as ``normalised_boxes``, a mask annotation as its paths)."""
    return {name: normalised_boxes(table) if name == "boxes" else mask_paths(table, name)
            for name in annotations}


def mask_paths(table, name):
    """The table's mask files of annotation ``name`` (empty: none; checked
    with the images by ``common.data.validate``)."""
    import numpy as np
    return table[name].to_numpy().astype(str) if name in table else np.full(len(table), "")


def normalised_boxes(table):
    """(N, M, 4) float32 ``[y1, x1, y2, x2]`` in [0, 1] from the table's pixel
    ``boxes`` (``x0, y0, x1, y1`` on the image file) and each image's size
    read from its header; rows of zeros pad images with fewer boxes."""
    import numpy as np
    most = max(1, max((len(b) for b in table["boxes"]), default=1))
    out = np.zeros((len(table), most, 4), np.float32)
    for row, (path, boxes) in enumerate(zip(table["path"], table["boxes"])):
        if not len(boxes):
            continue
        height, width = file_size(path)
        for index, (x0, y0, x1, y1) in enumerate(list(boxes)[:most]):
            out[row, index] = (y0 / height, x0 / width, y1 / height, x1 / width)
    return np.clip(out, 0.0, 1.0)
