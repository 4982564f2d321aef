"""Every image checked before training: missing, unreadable or corrupt
files, files ``check_image`` refuses from their header, undecoded (another
format whatever the name says, a header cut short, more pixels than
``MAX_IMAGE_PIXELS``), WSOL masks likewise, unknown labels, boxes outside
the image."""

import contextlib
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
from tqdm.auto import tqdm

from common.data.image_header import ImageRefused, check_image
from common.errors import printable
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
        size = check_image(path)  # from the header: before any decoder runs
        raw = np.fromfile(path, dtype=np.uint8)
    except ImageRefused as refused:
        return refused.reason
    except OSError as error:
        return f"unreadable ({error.strerror})"
    image = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED)  # a GIF's first frame only
    if image is None:
        return "corrupt or not an image"
    if image.shape[:2] != size:
        return (f"its header declares {size[1]}x{size[0]} pixels, its decoder made "
                f"{image.shape[1]}x{image.shape[0]}")
    return size


def _mask_problem(path):
    """Why the mask file at ``path`` must not be read (from its header), or None."""
    if not os.path.isfile(path):
        return f"mask '{path}': missing file"
    try:
        check_image(path)
    except ImageRefused as refused:
        return f"mask '{path}': {refused.reason}"
    return None


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
    files, files ``check_image`` refuses, WSOL masks likewise (from their
    headers), labels outside ``class_names``, boxes outside the image, classes
    without images. Raises one DataError listing the offenders, or with
    ``skip_bad`` warns on stderr and returns the table without them."""
    known = set(class_names)
    with opencv_quiet(), ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        shapes = list(tqdm(pool.map(_inspect, table["path"]), total=len(table),
                           desc=f"checking {what} images", leave=False,
                           disable=True if len(table) < 500 else None))
    masks = None  # WSOL masks and the guides' ignore / attend masks: checked as well
    columns = [c for c in ("ignore", "attend") if c in table]
    if "masks" in table or columns:
        wsol = table["masks"] if "masks" in table else [()] * len(table)
        masks = [[*(paths if isinstance(paths, (tuple, list)) else ()),
                  *(path for path in extra if isinstance(path, str) and path)]
                 for paths, *extra in zip(wsol, *(table[c] for c in columns))]
    problems = {}  # row position -> reason
    for i, (row, shape) in enumerate(zip(table.itertuples(), shapes)):
        if isinstance(shape, str):
            problems[i] = shape
            continue
        mask = next(filter(None, map(_mask_problem, masks[i])), None) if masks else None
        if mask:
            problems[i] = mask
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
            raise DataError(f"{len(problems)} bad {what} image(s) (skip_bad=True, on the "
                            "command line --skip-bad-images, trains on the rest): "
                            f"{format_listing(lines)}")
        print(printable(f"warning: skipping {len(problems)} bad {what} image(s): "
                        f"{format_listing(lines)}"),
              file=sys.stderr)
        keep = np.ones(len(table), bool)
        keep[list(problems)] = False
        table = table[keep].reset_index(drop=True)
    return table
