"""Geometric augmentation that moves the regions with the image.

The paper's data generator recomputes SIFT on every augmented image; here
one random similarity transform per image (rotation, scale, translation,
optional horizontal flip) warps the image, and the same transform maps the
corners of each cached box, whose bounding box becomes the new region. SIFT
runs once per image, not once per epoch.
"""

import math

import tensorflow as tf
from keras import ops

from agnet.regions import batch_regions


def _matrices(batch, rotation, scale, translation, flip, seed):
    """Per image 2x2 forward matrix A and shift t (fractions of the size)."""
    uniform = lambda low, high, s: tf.random.uniform((batch,), low, high, seed=s)  # noqa: E731
    angle = uniform(-rotation, rotation, seed) * (math.pi / 180.0)
    zoom = uniform(scale[0], scale[1], None if seed is None else seed + 1)
    shift = tf.stack([uniform(-translation, translation, None if seed is None else seed + 2),
                      uniform(-translation, translation, None if seed is None else seed + 3)],
                     axis=1)  # (B, 2) as (x, y)
    mirror = tf.ones((batch,))
    if flip:
        coin = uniform(0.0, 1.0, None if seed is None else seed + 4)
        mirror = tf.where(coin < 0.5, -1.0, 1.0)
    cos, sin = tf.cos(angle) * zoom, tf.sin(angle) * zoom
    # A = zoom * R(angle) * diag(mirror, 1), acting on (x, y) column vectors.
    a = tf.stack([tf.stack([cos * mirror, -sin], -1), tf.stack([sin * mirror, cos], -1)], 1)
    return a, shift


def warp(images, boxes, a, shift):
    """Applies x' = A (x - c) + c + shift * size to images (B, H, W, 3) and
    to the corners of normalised boxes (B, R, 4); returns both."""
    height = tf.cast(tf.shape(images)[1], tf.float32)
    width = tf.cast(tf.shape(images)[2], tf.float32)
    size = tf.stack([width - 1.0, height - 1.0])  # pixel extent in (x, y)
    centre = size / 2.0
    offset = shift * tf.stack([width, height])  # (B, 2)
    inverse = tf.linalg.inv(a)  # output pixel -> input pixel
    # input = inverse @ (output - centre - offset) + centre
    base = centre[None] - tf.einsum("bij,bj->bi", inverse, centre[None] + offset)
    transform = tf.concat([inverse[:, 0, :], base[:, :1], inverse[:, 1, :], base[:, 1:],
                           tf.zeros((tf.shape(a)[0], 2))], axis=1)  # (B, 8)
    warped = ops.image.affine_transform(images, transform, interpolation="bilinear",
                                        fill_mode="constant", fill_value=0.0)
    y1, x1, y2, x2 = tf.unstack(boxes, axis=-1)
    corners = tf.stack([tf.stack([x1, y1], -1), tf.stack([x2, y1], -1),
                        tf.stack([x1, y2], -1), tf.stack([x2, y2], -1)], axis=2)  # (B,R,4,2)
    pixels = corners * size
    moved = tf.einsum("bij,brkj->brki", a, pixels - centre) + centre + offset[:, None, None]
    moved = moved / size
    low, high = tf.reduce_min(moved, axis=2), tf.reduce_max(moved, axis=2)  # (B, R, 2)
    new = tf.stack([low[..., 1], low[..., 0], high[..., 1], high[..., 0]], axis=-1)
    return warped, tf.clip_by_value(new, 0.0, 1.0)


class RegionAugmentation:
    """Random similarity transform of each image and its regions: rotation
    +-``rotation`` degrees, scale in ``scale``, translation +-``translation``
    of the size, optional horizontal flip (the paper: 15 degrees, 0.85-1.15,
    15 %). Called on a batch of inputs ``{"image", "regions"}``."""

    takes_inputs = True  # the harness passes the whole inputs dict

    def __init__(self, rotation=15.0, scale=(0.85, 1.15), translation=0.15, flip=False,
                 seed=None):
        self.rotation, self.scale, self.translation = rotation, scale, translation
        self.flip, self.seed = flip, seed

    def __call__(self, inputs, training=True):
        if not training:
            return inputs
        images = inputs["image"]
        a, shift = _matrices(tf.shape(images)[0], self.rotation, self.scale,
                             self.translation, self.flip, self.seed)
        warped, boxes = warp(images, tf.cast(inputs["regions"], tf.float32), a, shift)
        return {**inputs, "image": warped, "regions": boxes}


class OnTheFlyRegions(RegionAugmentation):
    """Augments the image, then recomputes its regions with SIFT + GMM."""

    def __init__(self, num_primary, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.num_primary, self.region_seed = num_primary, seed

    def _regions(self, images):
        return batch_regions(images, self.num_primary, self.region_seed)

    def __call__(self, inputs, training=True):
        inputs = super().__call__(inputs, training)
        regions = tf.numpy_function(self._regions, [inputs["image"]], tf.float32)
        regions.set_shape(inputs["regions"].shape)
        return {**inputs, "regions": regions}
