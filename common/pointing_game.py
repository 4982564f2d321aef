"""Pointing game and energy-based pointing game of explanation maps, from
object boxes or masks, batched.

Boxes are normalised ``[y1, x1, y2, x2]``, several per image: a padded
(B, G, 4) array with a (B, G) mask of the valid boxes, or a ragged list of
(G_i, 4) arrays. A pixel belongs to a box when its centre does, and to the
object when it belongs to any of its boxes. Masks are (B, H, W), nonzero
for the object (pass ``mask == 1`` for masks that mark ignored pixels 255).
Each function returns per-image terms in percent, NaN for an image without
any object pixel, for ``common.explanation_metrics.ExplanationMeans``.

References:
    Zhang et al., Top-down Neural Attention by Excitation Backprop, ECCV
    2016 (pointing game, 15 px tolerance).
    Wang et al., Score-CAM, CVPR Workshops 2020 (energy-based pointing game).
"""

import numpy as np
import tensorflow as tf

from common.cam import normalize_maps


def pad_boxes(boxes):
    """A ragged list of (G_i, 4) boxes (or a tf.RaggedTensor) as padded
    (B, G, 4) float32 boxes and a (B, G) bool mask of the valid ones."""
    if isinstance(boxes, tf.RaggedTensor):
        lengths = boxes.row_lengths()
        return (tf.cast(boxes.to_tensor(0.0), tf.float32),
                tf.sequence_mask(lengths, tf.reduce_max(lengths)))
    rows = [np.asarray(b, np.float32).reshape(-1, 4) for b in boxes]
    most = max([len(r) for r in rows] + [1])
    padded = np.zeros((len(rows), most, 4), np.float32)
    valid = np.zeros((len(rows), most), bool)
    for i, row in enumerate(rows):
        padded[i, :len(row)], valid[i, :len(row)] = row, True
    return tf.constant(padded), tf.constant(valid)


def boxes_to_masks(boxes, height, width, valid=None):
    """(B, H, W) bool: pixels whose centre ((i + 0.5) / H, (j + 0.5) / W)
    lies in one of the image's valid boxes (edges included).

    boxes: (B, G, 4) with ``valid`` (B, G) (default: all valid), or a ragged
    list / tf.RaggedTensor of (G_i, 4).
    """
    if isinstance(boxes, (list, tuple, tf.RaggedTensor)):
        boxes, valid = pad_boxes(boxes)
    boxes = tf.cast(tf.convert_to_tensor(boxes), tf.float32)
    if valid is None:
        valid = tf.ones(tf.shape(boxes)[:2], tf.bool)
    ys = (tf.range(height, dtype=tf.float32) + 0.5) / height
    xs = (tf.range(width, dtype=tf.float32) + 0.5) / width
    y1, x1, y2, x2 = (boxes[..., i, None] for i in range(4))  # (B, G, 1)
    inside_y = (ys >= y1) & (ys <= y2)  # (B, G, H)
    inside_x = (xs >= x1) & (xs <= x2)  # (B, G, W)
    inside = inside_y[..., :, None] & inside_x[..., None, :] \
        & tf.cast(valid, tf.bool)[..., None, None]
    return tf.reduce_any(inside, axis=1)


def _maps_and_objects(maps, boxes, masks, valid):
    maps = tf.cast(tf.convert_to_tensor(maps), tf.float32)
    if (boxes is None) == (masks is None):
        raise ValueError("pass exactly one of boxes= and masks=")
    if boxes is not None:
        return maps, boxes_to_masks(boxes, maps.shape[1], maps.shape[2], valid)
    masks = tf.convert_to_tensor(masks)
    if masks.shape.rank != 3:
        raise ValueError(f"masks must be (B, H, W); got shape {tuple(masks.shape)}")
    size = (masks.shape[1], masks.shape[2])
    if tuple(maps.shape[1:3]) != size:
        maps = tf.image.resize(maps[..., None], size, method="bilinear")[..., 0]
    return maps, tf.not_equal(masks, tf.zeros((), masks.dtype))


def _or_nan(values, objects):
    """values, NaN where the image has no object pixel."""
    has_object = tf.reduce_any(objects, axis=(1, 2))
    return tf.where(has_object, values, tf.constant(np.nan, tf.float32))


def pointing_game(maps, boxes=None, masks=None, valid=None, tolerance=15):
    """Pointing game (Zhang et al., ECCV 2016): a hit when the map's maximum
    lies within ``tolerance`` pixels (Euclidean distance <= tolerance, at
    the maps' resolution, or the masks' when given) of an object pixel.
    The maximum is the first in row-major order when several pixels share
    it. Returns ``{"pointing_game_pct": (B,)}``: 100 for a hit, 0 for a
    miss, NaN without an object.
    """
    maps, objects = _maps_and_objects(maps, boxes, masks, valid)
    width = tf.shape(maps)[2]
    peak = tf.argmax(tf.reshape(maps, (tf.shape(maps)[0], -1)), axis=-1, output_type=tf.int32)
    peak_y = tf.cast(peak // width, tf.float32)[:, None, None]
    peak_x = tf.cast(peak % width, tf.float32)[:, None, None]
    ys = tf.range(tf.shape(maps)[1], dtype=tf.float32)[None, :, None]
    xs = tf.range(width, dtype=tf.float32)[None, None, :]
    near = tf.square(ys - peak_y) + tf.square(xs - peak_x) <= float(tolerance) ** 2
    hit = tf.cast(tf.reduce_any(near & objects, axis=(1, 2)), tf.float32)
    return {"pointing_game_pct": _or_nan(100.0 * hit, objects)}


def energy_pointing_game(maps, boxes=None, masks=None, valid=None):
    """Energy-based pointing game (Wang et al., CVPR-W 2020): the share of
    the map's energy (sum of its values, after per-image min-max
    normalisation) that falls on the object. A constant map normalises to
    zeros and scores 0. Returns ``{"energy_pointing_game_pct": (B,)}``, NaN
    without an object.
    """
    maps, objects = _maps_and_objects(maps, boxes, masks, valid)
    maps = normalize_maps(maps)
    inside = tf.reduce_sum(tf.where(objects, maps, 0.0), axis=(1, 2))
    total = tf.reduce_sum(maps, axis=(1, 2))
    share = tf.where(total > 0, inside / tf.where(total > 0, total, 1.0), 0.0)
    return {"energy_pointing_game_pct": _or_nan(100.0 * share, objects)}
