"""Predefined per-class attention masks for Forced Spatial Attention.

A mask set is an ``.npz`` with ``masks`` float32 (C, M, H, W) in [0, 1] and
``counts`` int (C,), the valid masks per class (0: no spatial prior; padded
slots ignored), optionally ``classes`` (names, checked against the data). Or
a JSON file ``{"image_size": [H, W], "classes": {name: {"centers": [[y, x],
...], "sigma": s}}}`` in image pixel coordinates.
"""

import json
import math
import os
import zipfile

import numpy as np

from common.errors import ArgumentError


MASK_PEAKS = ("one", "raw")
MAX_MASK_VALUES = 2 ** 28  # a JSON mask set draws at most 1 GiB of float32


class MaskError(ArgumentError):
    """A mask file that does not fit the data; the message says why."""


def gaussian_mask(shape, centers, sigma):
    """(H, W) float32 in [0, 1]: the pixelwise max of 2-D Gaussians with peak
    1 at each (y, x) centre (pixels); zeros when there is no centre."""
    height, width = shape
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    mask = np.zeros(shape, np.float64)
    for y, x in centers:
        mask = np.maximum(mask, np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2.0 * sigma ** 2)))
    return mask.astype(np.float32)


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(
        value)


def _check_spec(spec, class_names):
    """MaskError unless ``spec`` has the JSON structure described above and
    draws a mask set of at most ``MAX_MASK_VALUES`` values."""
    shape = "'image_size': [H, W] and 'classes': {name: {'centers': [[y, x], ...], 'sigma': s}}"
    size = spec.get("image_size") if isinstance(spec, dict) else None
    per_class = spec.get("classes") if isinstance(spec, dict) else None
    if not (isinstance(size, list) and len(size) == 2 and isinstance(per_class, dict)
            and all(type(n) is int and n > 0 for n in size)):
        raise MaskError(f"mask JSON needs {shape}, with positive integer H and W")
    missing = sorted(set(class_names) - set(per_class))
    extra = sorted(set(per_class) - set(class_names))
    if missing or extra:
        raise MaskError(f"mask JSON classes differ from the data's {class_names}: missing "
                        f"{missing}, unknown {extra}")
    for name, entry in per_class.items():
        centres = entry.get("centers", []) if isinstance(entry, dict) else None
        if not (isinstance(centres, list) and all(
                isinstance(c, list) and len(c) == 2 and all(map(_number, c)) for c in centres)):
            raise MaskError(f"mask JSON class '{name}': expected {{'centers': [[y, x], ...], "
                            "'sigma': s}")
        if centres and not (_number(entry.get("sigma")) and entry["sigma"] > 0):
            raise MaskError(f"mask JSON class '{name}': 'sigma' must be a positive number")
    most = max([1] + [len(per_class[c].get("centers", [])) for c in class_names])
    if len(class_names) * most * size[0] * size[1] > MAX_MASK_VALUES:
        raise MaskError(f"mask JSON draws {len(class_names)} x {most} masks of {size[0]} x "
                        f"{size[1]} pixels: more than {MAX_MASK_VALUES} values")


def masks_from_spec(spec, class_names):
    """(masks, counts) from the JSON structure described above."""
    _check_spec(spec, class_names)
    size, per_class = spec["image_size"], spec["classes"]
    counts = np.array([len(per_class[c].get("centers", [])) for c in class_names], np.int64)
    masks = np.zeros((len(class_names), max(1, counts.max()), *size), np.float32)
    for i, name in enumerate(class_names):
        entry = per_class[name]
        for j, centre in enumerate(entry.get("centers", [])):
            masks[i, j] = gaussian_mask(size, [centre], float(entry["sigma"]))
    return masks, counts


MAX_ARRAY_BYTES = 4 << 30  # an .npz member's declared size above this is refused


def _check_npz_sizes(path):
    """Refuses an .npz whose arrays would take more than MAX_ARRAY_BYTES once
    loaded, from each member's .npy header, before anything is read: numpy
    allocates the declared shape up front, so a small file (or a compressed
    one) can otherwise ask for any amount of memory."""
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if not member.endswith(".npy"):
                continue
            with archive.open(member) as stream:
                version = np.lib.format.read_magic(stream)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, _, dtype = read_header(stream)
            size = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if size > MAX_ARRAY_BYTES:
                raise MaskError(f"'{path}' array '{member[:-4]}' declares shape "
                                f"{tuple(shape)} ({size / 2**30:.1f} GiB); more than "
                                f"{MAX_ARRAY_BYTES >> 30} GiB is refused", "path")


def load_masks(path, class_names):
    """(masks (C, M, H, W) float32, counts (C,) int) from an .npz or .json
    mask set, checked against the dataset's classes."""
    if not os.path.isfile(path):
        raise MaskError(f"file '{path}' does not exist", "path")
    if path.endswith(".json"):
        try:
            with open(path) as handle:
                return masks_from_spec(json.load(handle), class_names)
        except (json.JSONDecodeError, UnicodeDecodeError, MaskError) as error:
            raise MaskError(f"'{path}' is not a valid mask JSON: {error}", "path") from error
    try:
        _check_npz_sizes(path)
        with np.load(path) as data:
            masks, counts = data["masks"].astype(np.float32), data["counts"].astype(np.int64)
            names = [str(n) for n in data["classes"]] if "classes" in data else None
    except MaskError:
        raise
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise MaskError(f"cannot read '{path}' as an .npz with 'masks' and "
                        f"'counts': {error}", "path") from error
    if masks.ndim != 4:
        raise MaskError(f"'{path}' masks have shape {masks.shape}; expected "
                        "(classes, masks per class, H, W)", "path")
    if len(masks) != len(class_names) or counts.shape != (len(class_names),):
        raise MaskError(f"'{path}' has masks for {len(masks)} classes and "
                        f"{counts.shape[0]} counts; the data has {len(class_names)} "
                        f"classes {class_names}", "path")
    if names is not None and names != list(class_names):
        raise MaskError(f"'{path}' is for classes {names}; the data has "
                        f"{class_names}", "path")
    if counts.min() < 0 or counts.max() > masks.shape[1]:
        raise MaskError(f"'{path}' counts {counts.tolist()} must lie in "
                        f"[0, {masks.shape[1]}]", "path")
    if masks.min() < 0 or masks.max() > 1:
        raise MaskError(f"'{path}' mask values must lie in [0, 1]", "path")
    return masks, counts


def _cell_weights(centres, length, scale):
    """(cells, length) row-normalised weights: each mask pixel belongs to the
    cell whose centre is nearest (``scale``: mask pixels per input pixel);
    a cell smaller than a pixel gets the pixel nearest its centre."""
    centres = (np.asarray(centres, np.float64) + 0.5) * scale - 0.5
    pixels = np.arange(length)
    nearest = np.abs(pixels[:, None] - centres[None]).argmin(axis=1)  # (length,)
    weights = (nearest[None] == np.arange(len(centres))[:, None]).astype(np.float64)
    empty = np.flatnonzero(weights.sum(1) == 0)
    weights[empty, np.clip(np.round(centres[empty]).astype(int), 0, length - 1)] = 1.0
    return weights / weights.sum(1, keepdims=True)


def masks_on_grid(masks, geometry, input_size, peak="one"):
    """(C, M, h, w) masks on a CAM grid: each cell gets the mean of the mask
    pixels nearest its receptive-field centre (``geometry``, from
    ``common.receptive_field``), so a one-pixel mask lands in the cell whose
    centre is nearest, and a smooth mask is sampled at the centres (blurred
    by at most one cell).

    ``masks``: (C, M, H, W) in [0, 1] drawn on images of any size;
    ``input_size``: the model's (height, width). ``peak="one"`` rescales each
    non-empty mask to a grid maximum of 1 (a sigmoid target that reaches its
    top, whatever the grid's coarseness); ``"raw"`` keeps the values.
    """
    if peak not in MASK_PEAKS:
        raise MaskError(f"mask_peak must be one of {MASK_PEAKS}, got {peak!r}")
    masks = np.asarray(masks, np.float64)
    rows, cols = (_cell_weights(c, n, n / size) for c, n, size in zip(
        geometry.centres(), masks.shape[2:], input_size))
    grid = np.einsum("yh,cmhw,xw->cmyx", rows, masks, cols)
    if peak == "one":
        top = grid.max(axis=(2, 3), keepdims=True)
        grid = np.where(top > 0, grid / np.where(top > 0, top, 1.0), 0.0)
    return np.clip(grid, 0.0, 1.0).astype(np.float32)


def small_masks(grid, counts, class_names, minimum=2):
    """Classes with a mask that covers fewer than ``minimum`` grid cells above
    0.5: such a target cannot shape a CAM (one cell is a point)."""
    covered = (np.asarray(grid) > 0.5).sum(axis=(2, 3))  # (C, M)
    return [name for name, cells, count in zip(class_names, covered, counts)
            if count and cells[:count].min() < minimum]
