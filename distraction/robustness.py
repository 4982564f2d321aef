"""The paper's robustness test: evaluation on test images with random
erasing (Zhong et al., AAAI 2020)."""

import numpy as np


def erase(images, seed=0, area=(0.02, 0.4), rows=None, ratio=(0.3, 3.3)):
    """Erases one random rectangle in every image (``area``: its fraction
    of the image; ``ratio``: its height / width, log-uniform) and fills it
    with uniform noise in [0, 1], as random erasing does.

    Each image draws from its own generator, seeded by ``(seed, row)``
    (``rows``: the images' indices in the test set, default 0, 1, ...), so
    the erased test set does not depend on how it is batched, and two runs
    with the same seed (both arms of a comparison) see the same images.

    images: (B, H, W, C) float32 in [0, 1]; returns an erased copy.
    """
    images = np.array(images, np.float32, copy=True)
    height, width = images.shape[1:3]
    rows = range(len(images)) if rows is None else rows
    for image, row in zip(images, rows):
        rng = np.random.default_rng([abs(int(seed)), int(row)])
        target = rng.uniform(*area) * height * width
        aspect = np.exp(rng.uniform(*np.log(ratio)))
        tall = int(np.clip(round(np.sqrt(target * aspect)), 1, height))
        wide = int(np.clip(round(np.sqrt(target / aspect)), 1, width))
        top, left = rng.integers(0, height - tall + 1), rng.integers(0, width - wide + 1)
        image[top:top + tall, left:left + wide] = rng.random((tall, wide, image.shape[2]))
    return images
