"""The Forced Spatial Attention loss (Rangesh & Trivedi, ICCV-W 2019)."""

import tensorflow as tf


def fsa_loss(cam_logits, masks, counts, labels, stage, lambda_fsa=10.0, lambda_reg=0.2):
    """Pushes the sigmoid of the true class's CAM toward its predefined mask.

    Args:
        cam_logits: (B, h, w, C) pre-activation CAMs.
        masks: (C, M, h, w) masks on the CAM grid; counts: (C,) valid masks
            per class (0: no prior, the image adds no loss).
        labels: int (B,). stage: 1 (target = max of the class's masks) or 2
            (target = the closest valid mask, chosen without gradient).
    Returns:
        ``lambda_fsa * mean_i [mean_hw (T(A_ci) - target_i)^2
        + lambda_reg * sum_{c != ci} mean_hw (T(A_c) * target_i)]``, T = sigmoid.
    """
    activation = tf.sigmoid(tf.cast(cam_logits, tf.float32))  # (B, h, w, C)
    labels = tf.cast(tf.reshape(labels, (-1,)), tf.int32)
    masks = tf.cast(masks, tf.float32)
    own_masks = tf.gather(masks, labels)  # (B, M, h, w)
    own_counts = tf.gather(tf.cast(counts, tf.int32), labels)  # (B,)
    valid = tf.range(tf.shape(masks)[1])[None, :] < own_counts[:, None]  # (B, M)
    true_map = tf.gather(activation, labels, axis=3, batch_dims=1)  # (B, h, w)

    def closest():
        distance = tf.reduce_sum(tf.square(true_map[:, None] - own_masks), axis=(2, 3))
        distance = tf.where(valid, distance, tf.constant(float("inf")))
        index = tf.argmin(tf.stop_gradient(distance), axis=1, output_type=tf.int32)
        return tf.gather(own_masks, index, axis=1, batch_dims=1)

    def union():
        return tf.reduce_max(tf.where(valid[:, :, None, None], own_masks, 0.0), axis=1)

    target = tf.cond(tf.equal(tf.cast(stage, tf.int32), 2), closest, union)  # (B, h, w)
    fit = tf.reduce_mean(tf.square(true_map - target), axis=(1, 2))
    overlap = tf.reduce_mean(activation * target[..., None], axis=(1, 2))  # (B, C)
    others = tf.reduce_sum(overlap, axis=1) - tf.gather(overlap, labels, axis=1, batch_dims=1)
    per_image = tf.where(own_counts > 0, fit + lambda_reg * others, 0.0)
    return lambda_fsa * tf.reduce_mean(per_image)
