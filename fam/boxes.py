"""Boxes from class-agnostic foreground maps."""

import cv2
import numpy as np


def upsample(score_map, image_size):
    """Bilinear resize of an (h, w) map to image_size (H, W)."""
    height, width = image_size
    return cv2.resize(np.asarray(score_map, np.float32), (width, height),
                      interpolation=cv2.INTER_LINEAR)


def box_from_map(score_map, threshold=0.5, image_size=None):
    """``(x0, y0, x1, y1)`` ints, inclusive pixel corners, of the largest
    8-connected region of pixels strictly above ``threshold``;
    ``(0, 0, 0, 0)`` when no pixel passes.

    score_map: (H, W) float in [0, 1]. With ``image_size`` (H, W) the map is
    first upsampled bilinearly to the image.
    """
    if image_size is not None:
        score_map = upsample(score_map, image_size)
    mask = (np.asarray(score_map) > threshold).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return (0, 0, 0, 0)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, w, h = (int(v) for v in stats[largest, :4])
    return (x, y, x + w - 1, y + h - 1)
