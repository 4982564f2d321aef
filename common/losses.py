"""CAM losses shared by the methods."""

import tensorflow as tf

HNC_VARIANTS = ("mse", "kd")


def _negative_selection(cams, labels, k):
    """(B, C) float mask of the top-k negative classes of each image, ranked
    by the spatial sum of their CAM; positives are never selected."""
    num_classes = cams.shape[-1]
    labels = tf.convert_to_tensor(labels)
    if labels.shape.rank == 1:
        positive = tf.one_hot(tf.cast(labels, tf.int32), num_classes) > 0
    else:
        positive = tf.cast(labels, tf.float32) > 0
    scores = tf.reduce_sum(tf.stop_gradient(cams), axis=(1, 2))
    scores = tf.where(positive, tf.constant(float("-inf"), scores.dtype), scores)
    keep = num_classes if k is None else max(0, min(int(k), num_classes))
    if keep == 0:
        return tf.zeros_like(scores)
    _, index = tf.math.top_k(scores, k=keep)
    chosen = tf.reduce_sum(tf.one_hot(index, num_classes), axis=1)  # (B, C)
    return chosen * (1.0 - tf.cast(positive, chosen.dtype))


def homogeneous_negative_cam_loss(cams, labels, k=None, variant="mse", temperature=1.0):
    """Homogeneous negative CAM loss (Sun et al., ECCV 2020): pushes the CAMs
    of the most confusing absent classes toward a flat map.

    Args:
        cams: (B, h, w, C) CAM logits (maps whose spatial mean is the class
            logit, e.g. kernel and bias of a GAP -> Dense head at every
            position).
        labels: int (B,) class indices, or multi-hot (B, C) for multi-label
            (then every positive class is excluded).
        k: number of negatives kept per image, ranked by CAM sum; None or a
            k at least the number of negatives keeps them all.
        variant: ``"mse"``: mean of CAM^2 over the selected classes and
            positions; ``"kd"``: cross-entropy between the uniform
            distribution over positions and softmax_hw(CAM / temperature),
            summed over the selected classes, averaged over the batch.
    Returns:
        float32 scalar. The gradient reaches only the selected CAMs.
    """
    total, count = hnc_sum_and_count(cams, labels, k, variant, temperature)
    return tf.math.divide_no_nan(total, count)


def hnc_sum_and_count(cams, labels, k=None, variant="mse", temperature=1.0):
    """The HNC loss as (sum, count) with loss = sum / count: for ``mse`` the
    count is the number of selected (image, class) pairs, for ``kd`` the
    number of images. Summing both over the replicas of a distributed batch
    gives the loss of the whole global batch."""
    if variant not in HNC_VARIANTS:
        raise ValueError(f"hnc variant must be one of {HNC_VARIANTS}, got {variant!r}")
    cams = tf.cast(cams, tf.float32)
    chosen = _negative_selection(cams, labels, k)
    if variant == "mse":
        per_class = tf.reduce_mean(tf.square(cams), axis=(1, 2))
        return tf.reduce_sum(chosen * per_class), tf.reduce_sum(chosen)
    batch, height, width = tf.shape(cams)[0], tf.shape(cams)[1], tf.shape(cams)[2]
    flat = tf.reshape(cams, (batch, height * width, -1)) / temperature
    cross_entropy = -tf.reduce_mean(tf.nn.log_softmax(flat, axis=1), axis=1)  # (B, C)
    return tf.reduce_sum(chosen * cross_entropy), tf.cast(batch, tf.float32)
