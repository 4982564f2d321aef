"""FSA's per-class masks as the Python API receives them, refused in one
line when they cannot be what ``ForcedSpatialAttention`` expects (the CLI's
``fsa.masks.load_masks`` checks files the same way)."""

import numpy as np

# A mask drawn on an image is at least this many pixels on a side; a last
# axis this short after a longer second axis is a stack of masks.
SMALLEST_SIDE = 8


def check_masks(masks, counts, on_grid=False):
    """``masks`` (C, M, H, W) in [0, 1]; ``counts`` (C,) in 0..M."""
    if masks.ndim != 4 or len(masks) != len(counts):
        raise ValueError(f"FSA masks: expected (classes, masks, H, W) with one count per "
                         f"class, got {masks.shape} and {len(counts)} counts")
    _, stack, height, width = masks.shape
    if not on_grid and width < SMALLEST_SIDE <= stack and width < height:
        raise ValueError(f"FSA masks: shape {masks.shape} looks laid out (C, H, W, M); expected "
                         "(C, M, H, W): np.transpose(masks, (0, 3, 1, 2))")
    if masks.size and (float(masks.max()) > 1.0 or float(masks.min()) < 0.0):
        raise ValueError(f"FSA masks: expected values in [0, 1], got up to {float(masks.max()):g}"
                         ": masks in 0-255? divide by 255")
    if counts.size and (int(counts.max()) > stack or int(counts.min()) < 0):
        raise ValueError(f"FSA counts: expected 0 to {stack} masks per class (the masks' second "
                         f"axis), got {np.asarray(counts).tolist()}")
