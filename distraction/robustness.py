"""The paper's robustness test: evaluation on test images with random
erasing (Zhong et al., AAAI 2020)."""

import keras
import numpy as np


def erase(images, seed=0, area=(0.02, 0.4), chunk=64):
    """Erases one random rectangle (``area`` fraction of the image, filled
    with noise) in every image, with Keras's RandomErasing. Seeded and
    applied in fixed chunks, so two runs with the same seed and test set
    (both arms of a comparison) see the same erased images."""
    layer = keras.layers.RandomErasing(factor=(1.0, 1.0), scale=area, value_range=(0, 1),
                                       seed=seed)
    images = np.asarray(images, np.float32)
    return np.concatenate([np.asarray(layer(images[i:i + chunk], training=True))
                           for i in range(0, len(images), chunk)])
