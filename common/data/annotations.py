"""Helpers of the benchmark readers (``common.data.formats``): annotation
lines with errors that name the file and line, tables, the carved val split."""

import os

import pandas as pd

from common.data.tables import DataError, check_line_lengths

COLUMNS = ["path", "labels", "split", "boxes"]


def read_lines(path, fields=None, separator=None, what=None):
    """Non-empty lines of a text file split into fields; a missing file, a
    line with the wrong number of fields or a huge line is a DataError
    naming the file and the line."""
    if not os.path.isfile(path):
        raise DataError(f"{what or 'dataset'}: missing annotation file '{path}'")
    check_line_lengths(path)
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            parts = (line.rstrip("\n").split(separator, fields - 1 if fields else -1)
                     if separator else line.split(None, fields - 1 if fields else -1))
            parts = [p.strip() for p in parts]
            if fields and len(parts) != fields:
                raise DataError(f"{path}, line {number}: expected {fields} fields, got "
                                f"{line.strip()!r}")
            rows.append((number, parts))
    return rows


def number(value, path, line):
    try:
        return float(value)
    except ValueError:
        raise DataError(f"{path}, line {line}: expected a number, got {value!r}") from None


def table_of(rows):
    """A table from (path, labels, split, boxes) rows, in the given order."""
    return pd.DataFrame(rows, columns=COLUMNS)


def carve_val(table, fraction=0.1, seed=0):
    """Moves a seeded, class-stratified ``fraction`` of the train rows to val
    (at least one image of every class with two or more)."""
    train = table[table["split"] == "train"]
    first = train["labels"].map(lambda labels: labels[0])
    chosen = (train.groupby(first, sort=True, group_keys=False)
              .apply(lambda group: group.sample(
                  n=max(1, int(round(fraction * len(group)))), random_state=seed)
                  if len(group) >= 2 else group.iloc[:0]).index)
    table = table.copy()
    table.loc[chosen, "split"] = "val"
    return table


