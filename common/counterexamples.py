"""Counterexamples (Teso and Kersting, "Explanatory interactive machine
learning", AIES 2019): the region the model must not use is randomised,
the label kept, so the region stops predicting the label."""

import keras
import tensorflow as tf

from common.guidance import Guide

FILLS = ("noise", "other", "shuffle")


@keras.saving.register_keras_serializable(package="common")
class Counterexamples(Guide):
    """Before each training step, the ``ignore`` region of a share of the
    batch's images is replaced, the labels kept: by uniform noise in [0, 1]
    (``"noise"``), by another image's pixels at the same place (``"other"``:
    the batch rolled by one) or by the image's own pixels in random order
    (``"shuffle"``). Stateless draws seeded by ``seed`` and the optimizer's
    step: the same on every replica and run. The statistic
    ``counterexamples`` is the share of images changed.

    ``share`` defaults to 1: a region left intact in some images still
    predicts their labels, which keeps rewarding the shortcut; with every
    region randomised it predicts nothing. Costs no backward pass: one
    blend of the batch.
    """

    reads = ("ignore",)

    def __init__(self, share=1.0, fill="noise", seed=0):
        share = float(share)
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"Counterexamples: share must be in [0, 1], got {share}")
        if fill not in FILLS:
            raise ValueError(f"Counterexamples: fill must be one of {FILLS}, got {fill!r}")
        self.share, self.fill, self.seed = share, fill, int(seed)

    def statistic_names(self):
        return ("counterexamples",)

    def _replacement(self, images, seeds):
        if self.fill == "noise":
            return tf.random.stateless_uniform(tf.shape(images), seed=seeds[0],
                                               dtype=images.dtype)
        if self.fill == "other":
            return tf.roll(images, shift=1, axis=0)
        shape = tf.shape(images)
        flat = tf.reshape(images, (shape[0], -1, shape[3]))
        noise = tf.random.stateless_uniform(tf.shape(flat)[:2], seed=seeds[0])
        order = tf.argsort(noise, axis=1)  # a permutation of each image's pixels
        return tf.reshape(tf.gather(flat, order, axis=1, batch_dims=1), shape)

    def prepare(self, model, x, y):
        if not isinstance(x, dict) or "ignore" not in x:
            raise ValueError("Counterexamples: the inputs have no 'ignore' mask (B, H, W); "
                             "give it beside the image: fit({'image': x, 'ignore': masks}, y)")
        images = model.image_of(x)
        step = tf.cast(model.optimizer.iterations, tf.int32)
        seeds = tf.random.experimental.stateless_split(tf.stack([self.seed, step]), 2)
        chosen = tf.random.stateless_uniform(tf.shape(images)[:1], seed=seeds[1]) < self.share
        ignore = tf.cast(x["ignore"], images.dtype)[..., None]
        ignore = ignore * tf.cast(chosen, images.dtype)[:, None, None, None]
        changed = images * (1 - ignore) + self._replacement(images, seeds) * ignore
        share = tf.reduce_mean(tf.cast(chosen, tf.float32))
        return model.with_image(x, changed), {"counterexamples": share}

    def statistics(self, step):
        return {}

    def get_config(self):
        return {"share": self.share, "fill": self.fill, "seed": self.seed}
