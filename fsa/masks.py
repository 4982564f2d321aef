"""Predefined per-class attention masks for Forced Spatial Attention.

A mask set is an ``.npz`` with ``masks`` float32 (C, M, H, W) in [0, 1] and
``counts`` int (C,), the valid masks per class (0: no spatial prior; padded
slots ignored), optionally ``classes`` (names, checked against the data). Or
a JSON file ``{"image_size": [H, W], "classes": {name: {"centers": [[y, x],
...], "sigma": s}}}`` in image pixel coordinates.
"""

import json
import os

import cv2
import numpy as np


class MaskError(ValueError):
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


def masks_from_spec(spec, class_names):
    """(masks, counts) from the JSON structure described above."""
    size = spec.get("image_size")
    per_class = spec.get("classes")
    if not (isinstance(size, list) and len(size) == 2 and isinstance(per_class, dict)):
        raise MaskError("mask JSON needs 'image_size': [H, W] and 'classes': "
                        "{name: {'centers': [[y, x], ...], 'sigma': s}}")
    missing = sorted(set(class_names) - set(per_class))
    extra = sorted(set(per_class) - set(class_names))
    if missing or extra:
        raise MaskError(f"mask JSON classes differ from the data's {class_names}: missing "
                        f"{missing}, unknown {extra}")
    counts = np.array([len(per_class[c].get("centers", [])) for c in class_names], np.int64)
    masks = np.zeros((len(class_names), max(1, counts.max()), *size), np.float32)
    for i, name in enumerate(class_names):
        entry = per_class[name]
        for j, centre in enumerate(entry.get("centers", [])):
            masks[i, j] = gaussian_mask(size, [centre], float(entry["sigma"]))
    return masks, counts


def load_masks(path, class_names):
    """(masks (C, M, H, W) float32, counts (C,) int) from an .npz or .json
    mask set, checked against the dataset's classes."""
    if not os.path.isfile(path):
        raise MaskError(f"--masks: file '{path}' does not exist")
    if path.endswith(".json"):
        try:
            with open(path) as handle:
                return masks_from_spec(json.load(handle), class_names)
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise MaskError(f"--masks: '{path}' is not a valid mask JSON: {error}") from error
    try:
        with np.load(path) as data:
            masks, counts = data["masks"].astype(np.float32), data["counts"].astype(np.int64)
            names = [str(n) for n in data["classes"]] if "classes" in data else None
    except (OSError, ValueError, KeyError) as error:
        raise MaskError(f"--masks: cannot read '{path}' as an .npz with 'masks' and "
                        f"'counts': {error}") from error
    if masks.ndim != 4:
        raise MaskError(f"--masks: '{path}' masks have shape {masks.shape}; expected "
                        "(classes, masks per class, H, W)")
    if len(masks) != len(class_names) or counts.shape != (len(class_names),):
        raise MaskError(f"--masks: '{path}' has masks for {len(masks)} classes and "
                        f"{counts.shape[0]} counts; the data has {len(class_names)} "
                        f"classes {class_names}")
    if names is not None and names != list(class_names):
        raise MaskError(f"--masks: '{path}' is for classes {names}; the data has "
                        f"{class_names}")
    if counts.min() < 0 or counts.max() > masks.shape[1]:
        raise MaskError(f"--masks: '{path}' counts {counts.tolist()} must lie in "
                        f"[0, {masks.shape[1]}]")
    if masks.min() < 0 or masks.max() > 1:
        raise MaskError(f"--masks: '{path}' mask values must lie in [0, 1]")
    return masks, counts


def masks_to_grid(masks, grid_shape):
    """Resamples (C, M, H, W) masks to the CAM grid (C, M, h, w) by area
    averaging (bilinear when upsampling)."""
    masks = np.asarray(masks, np.float32)
    h, w = grid_shape
    shrink = h <= masks.shape[2] and w <= masks.shape[3]
    method = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    flat = masks.reshape(-1, *masks.shape[2:])
    grid = np.stack([cv2.resize(m, (w, h), interpolation=method) for m in flat])
    return np.clip(grid.reshape(*masks.shape[:2], h, w), 0.0, 1.0)
