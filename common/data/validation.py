"""Every image checked before training: missing, unreadable or corrupt
files, images that declare more pixels than ``MAX_IMAGE_PIXELS`` (refused
from the header, undecoded), unknown labels, boxes outside the image."""

import contextlib
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
from tqdm.auto import tqdm

from common.data.image_header import too_large
from common.data.tables import IMAGE_EXTENSIONS, DataError, format_listing


@contextlib.contextmanager
def opencv_quiet():
    """OpenCV's own log lines off (a corrupt PNG makes its decoder print
    WARN/ERROR lines): the checks report every bad file in one message."""
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(previous)


def _inspect(path):
    """(height, width) of a readable image, or a reason it is bad."""
    if not os.path.isfile(path):
        return "missing file"
    if not path.lower().endswith(IMAGE_EXTENSIONS):
        return f"not a {'/'.join(IMAGE_EXTENSIONS)} image"
    try:
        bomb = too_large(path)  # from the header: before any decoder allocates pixels
        if bomb:
            return bomb
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
    with opencv_quiet():
        reasons = [_inspect(path) for path in paths]
    bad = [f"{path} ({reason})" for path, reason in zip(paths, reasons) if isinstance(reason, str)]
    if bad:
        raise DataError(f"bad image(s): {'; '.join(bad)}")


def validate(table, class_names, skip_bad=False, what="data"):
    """Checks every image before training: missing, unreadable or corrupt
    files, labels outside ``class_names``, boxes outside the image, classes
    without images. Raises one DataError listing the offenders, or with
    ``skip_bad`` warns on stderr and returns the table without them."""
    known = set(class_names)
    with opencv_quiet(), ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
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
                            f"to train on the rest): {format_listing(lines)}")
        print(f"warning: skipping {len(problems)} bad {what} image(s): {format_listing(lines)}",
              file=sys.stderr)
        keep = np.ones(len(table), bool)
        keep[list(problems)] = False
        table = table[keep].reset_index(drop=True)
    return table
