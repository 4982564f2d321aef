"""The energy share behind ``common.BoxEnergy`` (Rao et al., ICCV 2023): how
much of a map's positive energy lies inside an image's boxes (or any
region mask, e.g. ``attend``)."""

import tensorflow as tf


def box_masks(boxes, size):
    """(B, H, W) float32: 1 where a pixel's centre lies inside any of the
    image's boxes. ``boxes`` (B, M, 4) normalised ``[y1, x1, y2, x2]``; a
    box of zero area (padding) selects nothing."""
    boxes = tf.cast(boxes, tf.float32)
    height, width = tf.cast(size[0], tf.float32), tf.cast(size[1], tf.float32)
    ys = (tf.range(height) + 0.5) / height  # pixel centres, normalised
    xs = (tf.range(width) + 0.5) / width
    y1, x1, y2, x2 = (boxes[..., i][:, :, None] for i in range(4))  # (B, M, 1)
    inside_y = (ys[None, None] >= y1) & (ys[None, None] < y2)  # (B, M, H)
    inside_x = (xs[None, None] >= x1) & (xs[None, None] < x2)  # (B, M, W)
    inside = inside_y[..., :, None] & inside_x[..., None, :]  # (B, M, H, W)
    return tf.cast(tf.reduce_any(inside, axis=1), tf.float32)


def has_boxes(boxes):
    """(B,) bool: the image has at least one box of non-zero area."""
    boxes = tf.cast(boxes, tf.float32)
    area = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
    return tf.reduce_any(area > 0, axis=1)


def box_energy_sum_and_count(maps, boxes, size):
    """(sum over images with boxes of the energy share, their number).

    ``maps`` (B, h, w): the positive part is upsampled bilinearly to
    ``size`` (H, W); the share is sum(inside) / sum(all), 0 for a map with
    no positive energy."""
    return region_energy_sum_and_count(maps, box_masks(boxes, size), has_boxes(boxes))


# The soft positive part's temperature, a share of each map's largest |value|.
SOFTNESS = 0.1


def _share(positive, region):
    inside = tf.reduce_sum(positive * region, axis=(1, 2))
    return tf.math.divide_no_nan(inside, tf.reduce_sum(positive, axis=(1, 2)))


def region_energy_sum_and_count(maps, regions, used=None):
    """(sum over images with a region of the energy share, their number).

    ``maps`` (B, h, w) are upsampled bilinearly to the regions' size;
    ``regions`` (B, H, W) in [0, 1] weigh the pixels (a mask: 1 inside);
    ``used`` (B,) bool, by default: the region is not empty.

    The value is the paper's share of the positive energy, ReLU(map), inside
    the region. Its gradient is that of the same share of a soft positive
    part, ``t * softplus(map / t)`` with ``t`` a tenth of the map's largest
    |value| (a straight-through estimate): ReLU's own gradient is exactly
    zero once the map is <= 0 everywhere inside the region, so a map that
    has left the object never comes back; the soft part still ranks the
    region's pixels by how close to positive they are."""
    regions = tf.cast(regions, tf.float32)
    maps = tf.cast(maps, tf.float32)
    size = tf.shape(regions)[1:3]

    def upsampled(positive):
        return tf.image.resize(positive[..., None], size, method="bilinear")[..., 0]

    scale = tf.stop_gradient(tf.reduce_max(tf.abs(maps), axis=(1, 2), keepdims=True))
    temperature = SOFTNESS * scale + 1e-12
    soft = _share(upsampled(temperature * tf.math.softplus(maps / temperature)), regions)
    share = tf.stop_gradient(_share(upsampled(tf.nn.relu(maps)), regions))
    share = share + soft - tf.stop_gradient(soft)
    if used is None:
        used = tf.reduce_any(regions > 0, axis=(1, 2))
    used = tf.cast(used, tf.float32)
    return tf.reduce_sum(share * used), tf.reduce_sum(used)
