"""The energy share behind ``common.BoxEnergy`` (Rao et al., ICCV 2023): how
much of a map's positive energy lies inside an image's boxes."""

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
    positive = tf.nn.relu(tf.cast(maps, tf.float32))[..., None]
    positive = tf.image.resize(positive, size, method="bilinear")[..., 0]
    inside = tf.reduce_sum(positive * box_masks(boxes, size), axis=(1, 2))
    share = tf.math.divide_no_nan(inside, tf.reduce_sum(positive, axis=(1, 2)))
    used = tf.cast(has_boxes(boxes), tf.float32)
    return tf.reduce_sum(share * used), tf.reduce_sum(used)
