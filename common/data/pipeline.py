"""Tables as batched, prefetched ``tf.data`` pipelines of float32 RGB images
in [0, 1]."""

import os

import numpy as np
import tensorflow as tf

from common.data.image_header import check_image
from common.data.tables import encode_labels


def decode_image(path, image_size):
    """File -> (H, W, 3) float32 in [0, 1]; grey and RGBA become RGB. A
    path given as a Python string is checked from its header first
    (``check_image`` raises ImageRefused, a ValueError, before TensorFlow's
    decoder runs); ``make_dataset`` takes paths that ``validate`` checked."""
    if isinstance(path, (str, os.PathLike)):
        check_image(path)
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    image = tf.image.resize(tf.cast(image, tf.float32) / 255.0, image_size, antialias=True)
    return tf.clip_by_value(image, 0.0, 1.0)


def decode_mask(path, image_size):
    """A mask file -> (H, W) float32 in [0, 1] at the image's size (its grey
    level / 255, resized like the image); an empty path -> zeros (no mask).
    The files were checked by ``check_image`` with the data, before training."""
    def read():
        mask = tf.io.decode_image(tf.io.read_file(path), channels=1, expand_animations=False)
        mask = tf.image.resize(tf.cast(mask, tf.float32) / 255.0, image_size, antialias=True)
        return tf.clip_by_value(mask[..., 0], 0.0, 1.0)
    return tf.cond(tf.equal(path, ""), lambda: tf.zeros(image_size, tf.float32), read)


def shard_rows(count, shards, index, seed=0):
    """Row indices of shard ``index`` of ``shards``: every shard gets the same
    number of rows (the table is padded with rows drawn at random, seeded,
    up to a multiple of ``shards``), so every worker runs as many steps."""
    rows = np.arange(count)
    padding = (-count) % shards
    if padding:
        extra = np.random.default_rng(seed).permutation(count)[:padding]
        rows = np.concatenate([rows, extra])
    return rows[index::shards]


def make_dataset(table, class_names, image_size, batch_size, training=False,
                 augment=None, multi_label=False, extra_inputs=None, seed=0, cache=None,
                 shard=None):
    """Batched, prefetched ``tf.data.Dataset`` of ``(image, label)``.

    Args:
        image_size: int or (H, W).
        batch_size: the global batch size.
        training: shuffle (seeded) and apply ``augment``.
        augment: a callable on batches of images (e.g. ``build_augmentation``),
            or on the whole inputs dict if it has ``takes_inputs = True``.
        extra_inputs: optional dict name -> array aligned with the table's
            rows; the inputs then become ``{"image": ..., name: ...}``.
        cache: keep decoded images in memory; default when they fit in 1 GiB.
        shard: (shards, index): read, decode and augment only that share of
            the rows (``shard_rows``); ``batch_size`` is then this worker's.
    """
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    labels = encode_labels(table, class_names, multi_label)
    paths = table["path"].to_numpy().astype(str)
    if shard is not None:
        rows = shard_rows(len(table), *shard, seed=seed)
        paths, labels = paths[rows], labels[rows]
        if extra_inputs is not None:
            extra_inputs = {name: np.asarray(value)[rows] for name, value in
                            extra_inputs.items()}
    sources = (paths, labels) if extra_inputs is None else (paths, labels, extra_inputs)
    data = tf.data.Dataset.from_tensor_slices(sources)

    def load(path, label, extra=None):
        image = decode_image(path, image_size)
        if extra is not None:  # mask files (ignore, attend) are decoded beside the image
            extra = {name: decode_mask(value, image_size) if value.dtype == tf.string
                     else value for name, value in extra.items()}
        return (image, label) if extra is None else ({"image": image, **extra}, label)

    data = data.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if cache is None:
        cache = len(paths) * image_size[0] * image_size[1] * 3 * 4 < 2 ** 30
    if cache:
        data = data.cache()
    if training:
        data = data.shuffle(min(len(paths), 10000), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size)
    if training and augment is not None:
        def apply(inputs, label):
            if getattr(augment, "takes_inputs", False):
                return augment(inputs, training=True), label  # e.g. moves boxes too
            if isinstance(inputs, dict):
                return {**inputs, "image": augment(inputs["image"], training=True)}, label
            return augment(inputs, training=True), label
        data = data.map(apply, num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)
