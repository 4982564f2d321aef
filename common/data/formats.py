"""``--data FORMAT:PATH``: the papers' benchmarks read in their own formats
into the toolkit's table (``path, labels, split, boxes``), one pass over the
annotation files and no image decoding.

Splits: the dataset's own where it has them; where it has only train and
test, ``val`` is a seeded, class-stratified 10 % of the official training
split (``carve_val``), and the official test split stays the test split.
Boxes are pixel ``x0, y0, x1, y1`` (x1, y1 exclusive); datasets that count
from 1 (Cars, Aircraft, VOC) have 1 taken off x0 and y0.
"""

import os

from common.data import formats_annotated, formats_auc, formats_text
from common.data.tables import DataError, read_table

READERS = {**formats_text.READERS, **formats_annotated.READERS, **formats_auc.READERS}


def classes_of(table):
    return sorted({label for labels in table["labels"] for label in labels})


def formats():
    """The names ``--data FORMAT:PATH`` accepts."""
    return sorted(READERS)


def is_format_spec(data):
    name, _, path = str(data).partition(":")
    return bool(path) and name in READERS


def read_format(data):
    """(table, classes) of ``FORMAT:PATH``."""
    name, _, root = str(data).partition(":")
    if name not in READERS:
        raise DataError(f"unknown format {name!r}; expected one of {sorted(READERS)}", "data")
    if not os.path.isdir(root):
        raise DataError(f"'{name}:{root}': '{root}' is not a folder", "data")
    table = READERS[name](os.path.abspath(root))
    if len(table) == 0:
        raise DataError(f"'{name}:{root}': no images listed", "data")
    return table.reset_index(drop=True), classes_of(table)


def read_data(data):
    """(table, classes) of any ``--data``: ``FORMAT:PATH``, a CSV or a
    class-per-folder tree."""
    return read_format(data) if is_format_spec(data) else read_table(data)
