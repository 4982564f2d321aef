"""FAM's auxiliary losses."""

import tensorflow as tf


def sparsity_loss(foreground):
    """L_spa = mean |M| over the batch and positions (M in (0, 1))."""
    return tf.reduce_mean(tf.abs(tf.cast(foreground, tf.float32)))


def diversity_loss(part_features):
    """L_div: mean pairwise cosine similarity between the K part features
    (B, K, C) of an image (pairs k < l), averaged over the batch."""
    parts = tf.math.l2_normalize(tf.cast(part_features, tf.float32), axis=-1, epsilon=1e-12)
    similarity = tf.matmul(parts, parts, transpose_b=True)  # (B, K, K)
    k = tf.shape(parts)[1]
    upper = tf.linalg.band_part(tf.ones((k, k)), 0, -1) - tf.eye(k)  # k < l
    pairs = tf.reduce_sum(upper)
    return tf.reduce_mean(tf.reduce_sum(similarity * upper, axis=(1, 2)) / pairs)
