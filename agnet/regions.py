"""Semantic regions of AG-Net from SIFT keypoints, without region labels.

The SIFT keypoints of the grey image are grouped by a Gaussian mixture into
k primary regions (the box enclosing each component's keypoints), then the
union box of every pair is added: R = k + k(k-1)/2 boxes, always, in a fixed
order, as normalised ``[y1, x1, y2, x2]`` (``tf.image.crop_and_resize``).

Hard cases never raise: with fewer distinct keypoints than components (a
blank, flat or tiny image) the primary regions are a fixed grid of the image
(rows = floor(sqrt(k)), columns = ceil(k / rows), row-major); a component
with no keypoint gets the grid cell of its index; a box thinner than
``min_size`` (a single keypoint, collinear keypoints) is grown about its
centre to ``min_size`` (a fraction of the side), staying inside the image.
"""

import contextlib
import itertools
import os
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
from threadpoolctl import threadpool_limits

from agnet.gmm import fit_predict

MIN_SIZE = 0.1


def num_regions(num_primary):
    return num_primary + num_primary * (num_primary - 1) // 2


def _grey(image):
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)
    if image.ndim == 3 and image.shape[-1] == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return image.reshape(image.shape[:2])


def keypoints(image):
    """Distinct (x, y) pixel positions of the SIFT keypoints, sorted."""
    found = cv2.SIFT_create().detect(_grey(image), None)
    points = np.array([k.pt for k in found], np.float64).reshape(-1, 2)
    return np.unique(points, axis=0)


def grid_boxes(num_primary):
    """k normalised boxes tiling the image, row-major."""
    rows = max(1, int(np.floor(np.sqrt(num_primary))))
    cols = int(np.ceil(num_primary / rows))
    boxes = [[r / rows, c / cols, (r + 1) / rows, (c + 1) / cols]
             for r in range(rows) for c in range(cols)]
    return np.array(boxes[:num_primary], np.float32)


def _grow(box, min_size):
    """Grows each side of a normalised box to at least min_size, inside [0, 1]."""
    box = np.array(box, np.float64)
    for lo, hi in ((0, 2), (1, 3)):
        if box[hi] - box[lo] < min_size:
            centre = (box[lo] + box[hi]) / 2
            start = np.clip(centre - min_size / 2, 0.0, 1.0 - min_size)
            box[lo], box[hi] = start, start + min_size
    return box


def primary_regions(image, num_primary=8, seed=0, min_size=MIN_SIZE):
    """(k, 4) normalised boxes of the Gaussian-mixture components."""
    height, width = np.asarray(image).shape[:2]
    points = keypoints(image)
    if len(points) < num_primary:
        return grid_boxes(num_primary)
    # GaussianMixture(full, kmeans init) as agnet.gmm computes it
    assignment = fit_predict(points, num_primary, seed, reg_covar=1e-6, max_iter=100, tol=1e-3)
    scale = np.array([max(width - 1, 1), max(height - 1, 1)], np.float64)
    fallback = grid_boxes(num_primary)
    boxes = []
    for component in range(num_primary):
        members = points[assignment == component] / scale  # (n, 2) normalised x, y
        if len(members) == 0:
            boxes.append(fallback[component])
            continue
        (x1, y1), (x2, y2) = members.min(axis=0), members.max(axis=0)
        boxes.append(_grow([y1, x1, y2, x2], min_size))
    return np.clip(np.array(boxes, np.float32), 0.0, 1.0)


def add_unions(primary):
    """Appends the union box of every pair (i < j, lexicographic order)."""
    pairs = [np.concatenate([np.minimum(primary[i, :2], primary[j, :2]),
                             np.maximum(primary[i, 2:], primary[j, 2:])])
             for i, j in itertools.combinations(range(len(primary)), 2)]
    return np.concatenate([primary, np.array(pairs, np.float32).reshape(-1, 4)])


def semantic_regions(image, num_primary=8, seed=0):
    """float32 (R, 4) normalised ``[y1, x1, y2, x2]`` boxes of an image
    (H, W, 3) uint8 or float in [0, 1]: the k primary regions, then the union
    of every unique pair; R = k + k(k-1)/2 (36 for k = 8). Deterministic."""
    return add_unions(primary_regions(image, num_primary, seed))


@contextlib.contextmanager
def one_thread_each():
    """One BLAS and one OpenCV thread per worker: the small products of the
    fit and the SIFT calls are many times slower when their own thread pools
    compete with the workers for the cores."""
    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        cv2.setNumThreads(previous)


def map_images(function, items, workers=None):
    """``[function(item) for item in items]`` on a thread per core (SIFT
    releases the GIL), one BLAS / OpenCV thread each."""
    workers = min(workers or os.cpu_count() or 1, max(len(items), 1))
    with one_thread_each(), ThreadPoolExecutor(workers) as pool:
        return list(pool.map(function, items))


def batch_regions(images, num_primary=8, seed=0, workers=None):
    """float32 (B, R, 4): ``semantic_regions`` of each image, in parallel."""
    return np.stack(map_images(lambda image: semantic_regions(image, num_primary, seed),
                               list(images), workers)).astype(np.float32)
