"""Occlusion of the pixels a heatmap selects (the paper's step 2)."""

import tensorflow as tf

MODES = ("zero", "one", "random")


def occlude(images, heatmaps, threshold=0.85, mode="zero"):
    """Sets every channel of each pixel whose heatmap exceeds ``threshold`` to
    0.0 (``zero``), 1.0 (``one``) or uniform random in [0, 1) (``random``);
    other pixels are unchanged.

    Args:
        images: (B, H, W, 3) float in [0, 1].
        heatmaps: (B, H, W) float in [0, 1] (normalised Grad-CAM).
    """
    if mode not in MODES:
        raise ValueError(f"occlusion mode must be one of {MODES}, got {mode!r}")
    images = tf.convert_to_tensor(images)
    selected = tf.cast(heatmaps, images.dtype)[..., None] > threshold  # (B, H, W, 1)
    if mode == "random":
        fill = tf.random.uniform(tf.shape(images), dtype=images.dtype)
    else:
        fill = tf.fill(tf.shape(images), tf.constant(0.0 if mode == "zero" else 1.0,
                                                     images.dtype))
    return tf.where(selected, fill, images)
