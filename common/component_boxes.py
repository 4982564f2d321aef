"""The WSOL protocol's boxes at every CAM threshold from two union-find
passes instead of one contour trace per threshold.

The protocol (``bench/wsol_reference.py``) thresholds a uint8 map at each level
and takes the bounding box of every contour OpenCV's ``findContours``
returns (``RETR_TREE``): one outer border per 8-connected component of the
pixels above the level, one hole border per 4-connected component of the
pixels at or below it that does not touch the image's edge. So the boxes
follow from the components alone: an outer border's box is its component's,
a hole border runs through the foreground pixels around the hole, one pixel
outside the hole's box on every side. The components of all levels come
from one pass over the pixels in descending value order (objects merge as
the level falls) and one in ascending order (holes merge as it rises), each
a union-find that keeps every component's box. Compiled with numba (its
first use compiles for about 8 s, then the machine code is cached beside
this file); about 7 ms a 224 px map for 100 levels in one thread, where the
protocol's code takes 16 ms, and it releases the GIL, so threads spread the
maps over the cores (``bench/wsol_metrics.py``).

Boxes use the protocol's convention: ``x0, y0`` the first pixel, ``x1, y1``
one past the last (``cv2.boundingRect``'s ``x + w``), clipped to width - 1
and height - 1."""

import numpy as np

from common.compiled import compiled


@compiled
def _all_boxes(image, levels):
    """(K, 5) ``level index, x0, y0, x1, y1``: two passes, objects
    (8-connected, value > level, levels falling) then holes (4-connected,
    value <= level, levels rising). Pixels are indexed in the image padded
    by one pixel (never added), so neighbours need no bounds check; a
    union-find by size with path halving keeps each root's box (int16,
    packed: about 1.5x faster than four int32 arrays, measured), ``active`` the
    roots (swap-removed on a union)."""
    height, width = image.shape
    flat = image.ravel()
    n, stride = flat.shape[0], width + 2
    starts = np.zeros(257, np.int64)  # starts[v]: how many pixels are below v
    for i in range(n):
        starts[np.int64(flat[i]) + 1] += 1
    starts = np.cumsum(starts)
    order = np.empty(n, np.int64)  # pixels by value, ascending
    fill = starts[:256].copy()
    for i in range(n):
        v = np.int64(flat[i])
        order[fill[v]] = i
        fill[v] += 1
    out, used = np.empty((1024, 5), np.int64), 0
    parent = np.empty((height + 2) * stride, np.int32)  # int32: the arrays stay in cache
    size, slot = np.empty_like(parent), np.empty_like(parent)
    box = np.empty((parent.shape[0], 4), np.int16)  # x0 y0 x1 y1 of a root, packed
    active = np.empty(n, np.int32)
    eight = np.array([-stride - 1, -stride, -stride + 1, -1, 1, stride - 1, stride, stride + 1])
    four = np.array([-stride, -1, 1, stride])
    for pass_ in range(2):  # a loop, not a tuple: numba compiles the body once
        holes = pass_ == 1
        parent[:] = -1
        offsets = four if holes else eight
        count = done = 0
        for j in range(levels.shape[0]):
            k = j if holes else levels.shape[0] - 1 - j
            added = starts[levels[k] + 1] if holes else n - starts[levels[k] + 1]
            while done < added:
                p = order[done] if holes else order[n - 1 - done]
                done += 1
                y, x = p // width, p % width
                pixel = root = (y + 1) * stride + x + 1
                parent[root], size[root] = root, 1
                box[root, 0], box[root, 1], box[root, 2], box[root, 3] = x, y, x, y
                active[count], slot[root] = root, count
                count += 1
                for offset in offsets:
                    other = pixel + offset
                    if parent[other] < 0:
                        continue
                    while parent[other] != other:
                        parent[other] = parent[parent[other]]
                        other = parent[other]
                    if other == root:
                        continue
                    if size[root] < size[other]:
                        root, other = other, root
                    parent[other] = root
                    size[root] += size[other]
                    box[root, 0] = min(box[root, 0], box[other, 0])
                    box[root, 1] = min(box[root, 1], box[other, 1])
                    box[root, 2] = max(box[root, 2], box[other, 2])
                    box[root, 3] = max(box[root, 3], box[other, 3])
                    count -= 1
                    active[slot[other]] = active[count]
                    slot[active[count]] = slot[other]
            if used + count > out.shape[0]:
                grown = np.empty((2 * (used + count), 5), np.int64)
                grown[:used] = out[:used]
                out = grown
            for i in range(count):
                r = active[i]
                grow = 1 if holes else 0  # a hole's border lies one pixel out
                if holes and not (box[r, 0] > 0 and box[r, 1] > 0 and box[r, 2] < width - 1
                                  and box[r, 3] < height - 1):
                    continue  # background that reaches the edge: no hole
                out[used, 0], out[used, 1], out[used, 2] = k, box[r, 0] - grow, box[r, 1] - grow
                out[used, 3] = min(box[r, 2] + 1 + grow, width - 1)
                out[used, 4] = min(box[r, 3] + 1 + grow, height - 1)
                used += 1
    return out[:used]


def component_boxes(image, levels):
    """(tiles (K,), boxes (K, 4)): every contour box of the uint8 ``image``
    thresholded strictly above each of ``levels`` (ints in 0..255), tagged
    with the index of its level; the same boxes (in another order) as
    ``findContours(RETR_TREE)`` + ``boundingRect`` per level."""
    image = np.ascontiguousarray(image, np.uint8)
    if max(image.shape) >= 2 ** 15 - 2:
        raise ValueError(f"maps up to 32,765 pixels a side, got {image.shape}")
    levels = np.asarray(levels, np.int64)
    if levels.size and (levels.min() < 0 or levels.max() > 255):
        raise ValueError(f"levels must lie in 0..255, got {levels.min()}..{levels.max()}")
    rising = np.argsort(levels, kind="stable")
    found = _all_boxes(image, levels[rising])
    return rising[found[:, 0]], found[:, 1:]
