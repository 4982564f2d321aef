"""Regions of every training image, computed once (in parallel threads over
the CPU cores, with a progress bar) and cached on disk, keyed by the image content
and the parameters."""

import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from common.data.image_header import check_image, declared_size
from common.progress import bar
from agnet.gmm import warm_up
from agnet.regions import one_thread_each, semantic_regions

VERSION = "regions-v2"  # v2: JPEGs decoded reduced (load_rgb)


def default_cache_dir():
    return os.environ.get("AGNET_REGION_CACHE",
                          os.path.join(os.path.expanduser("~"), ".cache", "attention-guided",
                                       "agnet-regions"))


REDUCED = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
           8: cv2.IMREAD_REDUCED_COLOR_8}


def reduction(path, image_size):
    """The largest factor (8, 4 or 2) by which a JPEG can be decoded smaller
    and still have ``image_size`` pixels on its short side (1: decode
    whole). libjpeg scales in the DCT, so a photo several times the model's
    size decodes several times faster; other formats decode whole."""
    size = declared_size(path) if path.lower().endswith((".jpg", ".jpeg")) else None
    if not size:
        return 1
    return next((f for f in (8, 4, 2) if min(size) // f >= image_size), 1)


def load_rgb(path, image_size):
    """The image as the model sees it: RGB uint8 resized to image_size
    (area interpolation, from a reduced JPEG decode where one is possible);
    checked from its header first (``check_image``: a file of another
    format, cut short or a decompression bomb is refused, undecoded)."""
    check_image(path)  # raises ImageRefused (a ValueError) before any decoder runs
    factor = reduction(path, image_size)
    image = cv2.imread(path, REDUCED[factor] if factor > 1 else cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"cannot read image '{path}'")
    image = cv2.resize(image, (image_size, image_size), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def cache_key(path, image_size, num_primary, seed):
    digest = hashlib.sha1()
    with open(path, "rb") as handle:  # in blocks: a large file is never held whole
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    digest.update(f"{VERSION}-{image_size}-{num_primary}-{seed}".encode())
    return digest.hexdigest()


def _compute(job):
    path, image_size, num_primary, seed, target = job
    regions = semantic_regions(load_rgb(path, image_size), num_primary, seed)
    tmp = f"{target}.tmp-{os.getpid()}-{threading.get_ident()}.npy"
    np.save(tmp, regions)
    os.replace(tmp, target)
    return regions


def compute_regions(paths, image_size, num_primary=8, seed=0, cache_dir=None, workers=None,
                    desc="regions", verbose=1):
    """float32 (N, R, 4) regions of the images at ``paths``; cached files are
    read, the others computed on all cores and written atomically."""
    cache_dir = cache_dir or default_cache_dir()
    os.makedirs(cache_dir, exist_ok=True)
    targets = [os.path.join(cache_dir, cache_key(p, image_size, num_primary, seed) + ".npy")
               for p in paths]
    todo = [(p, image_size, num_primary, seed, t) for p, t in zip(paths, targets)
            if not os.path.isfile(t)]
    if todo:
        warm_up(verbose)  # numba compiles the fit on first use: not inside the bar
        workers = min(workers or os.cpu_count() or 1, len(todo))
        # Threads, not processes: OpenCV releases the GIL, forking a process
        # that runs TensorFlow can deadlock, and spawning re-imports the
        # user's script. One BLAS / OpenCV thread per worker (one_thread_each).
        with one_thread_each(), ThreadPoolExecutor(workers) as pool:
            list(bar(pool.map(_compute, todo), total=len(todo), desc=f"SIFT + GMM {desc}",
                     verbose=verbose, unit="image"))
    return np.stack([np.load(t) for t in targets]).astype(np.float32)
