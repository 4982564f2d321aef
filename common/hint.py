"""HINT (Selvaraju et al., "Taking a HINT: leveraging explanations to make
vision and language models more grounded", ICCV 2019): the network's
gradient importance must rank the image's regions as a person's does."""

import keras
import tensorflow as tf

from common.guidance import Guide


def ranking_sum_and_count(importance, human, margin=0.0):
    """(sum over images with a human map of their mean pairwise hinge, their
    number). For each image, over the pairs of cells (a, b) that the human
    map ranks ``human[a] > human[b]``, the mean of ``max(0, importance[b] -
    importance[a] + margin * (human[a] - human[b]))``; ``importance`` and
    ``human`` are (B, h, w)."""
    g = tf.reshape(tf.cast(importance, tf.float32), (tf.shape(importance)[0], -1))
    h = tf.reshape(tf.cast(human, tf.float32), (tf.shape(human)[0], -1))
    ranked = tf.cast(h[:, :, None] > h[:, None, :], tf.float32)  # (B, a, b): a above b
    gap = h[:, :, None] - h[:, None, :]  # human[a] - human[b]
    hinge = tf.nn.relu(g[:, None, :] - g[:, :, None] + margin * gap)
    pairs = tf.reduce_sum(ranked, axis=(1, 2))
    per_image = tf.math.divide_no_nan(tf.reduce_sum(ranked * hinge, axis=(1, 2)), pairs)
    used = tf.cast(pairs > 0, tf.float32)
    return tf.reduce_sum(per_image * used), tf.reduce_sum(used)


@keras.saving.register_keras_serializable(package="common")
class Hint(Guide):
    """``weight`` times HINT's ranking loss between the true class's
    gradient importance on the CAM grid and the image's ``attend`` mask
    averaged onto that grid (area interpolation): over the pairs of cells
    the mask ranks apart, the mean hinge by which the network ranks them
    the other way. The importance is Grad-CAM before its ReLU: on the CAM
    heads the toolkit finds, the gradient weights of a GAP head are its
    Dense kernel, so it is the class activation map the step computes once
    (the ReLU would leave no gradient where the map is below zero, which is
    where a model looking elsewhere has it). Images whose mask is flat
    (all zero, or all one) add nothing. Needs ``attend`` (B, H, W); term
    ``hint_loss``.

    ``margin``: the paper ranks proposals whose features a detector fixes,
    with a zero margin; a CAM can satisfy a zero margin by going flat (its
    mean, the logit, needs no spatial order), and did in the tests. A CAM
    cell is in logit units, so the default asks each attended cell for one
    more unit of the true class's evidence than an unattended one (scaled
    by how far apart the mask ranks them); 0 is the paper's loss."""

    needs_cams = True
    reads = ("attend",)

    def __init__(self, weight=1.0, margin=1.0):
        weight, margin = float(weight), float(margin)
        if not (weight >= 0 and margin >= 0):
            raise ValueError(f"Hint: weight and margin must be >= 0, got {weight} and {margin}")
        self.weight, self.margin = weight, margin

    def term_names(self):
        return ("hint_loss",) if self.weight else ()

    def terms(self, step):
        attend = step.annotation("attend", "Hint")
        importance = step.true_class_cams()
        human = tf.image.resize(attend[..., None], tf.shape(importance)[1:3],
                                method="area")[..., 0]
        total, count = ranking_sum_and_count(importance, human, self.margin)
        return {"hint_loss": (self.weight * total, count)}

    def get_config(self):
        return {"weight": self.weight, "margin": self.margin}
