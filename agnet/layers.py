"""AG-Net's region layers: bilinear region pooling, one SE-residual block per
region, inter-region attention (eq. 2) and region importance (eq. 3)."""

import keras
import tensorflow as tf
from keras import ops

from common.layers import softmax32


def _sampling_weights(starts, ends, size, points):
    """(B, R, points, size) bilinear weights of ``points`` samples from
    ``start * (size - 1)`` to ``end * (size - 1)`` (normalised, inclusive, as
    ``tf.image.crop_and_resize``; one point: the middle); a sample outside
    [0, size - 1] weighs 0 (crop_and_resize's extrapolation value)."""
    extent = tf.cast(size - 1, starts.dtype)
    if points > 1:
        steps = tf.range(points, dtype=starts.dtype) / (points - 1)
        samples = (starts[..., None] + (ends - starts)[..., None] * steps) * extent
    else:
        samples = ((starts + ends) / 2 * extent)[..., None]
    inside = tf.cast((samples >= 0) & (samples <= extent), samples.dtype)
    grid = tf.range(size, dtype=samples.dtype)
    tent = tf.nn.relu(1.0 - tf.abs(samples[..., None] - grid))  # (B, R, P, size)
    return tent * inside[..., None]


@keras.saving.register_keras_serializable(package="agnet")
class RegionPooling(keras.layers.Layer):
    """Bilinearly pools each region, plus the whole image, from a feature map.

    Inputs: features (B, h, w, C) and boxes (B, R, 4) normalised
    ``[y1, x1, y2, x2]``. Output (B, R + 1, P, P, C): the R regions, then the
    whole image. The same samples as ``tf.image.crop_and_resize`` (boxes
    partly outside the map, flipped boxes), computed as a bilinear weight
    matrix and one batched matmul, so it compiles with XLA and converts to
    LiteRT with builtin ops (CropAndResize has neither).

    ``use_boxes=False`` (the ablation without semantic regions) ignores the
    boxes and pools the whole image alone: output (B, 1, P, P, C).
    """

    def __init__(self, pool_size=7, use_boxes=True, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = int(pool_size)
        self.use_boxes = bool(use_boxes)

    def call(self, features, boxes):
        batch = tf.shape(boxes)[0]
        if not self.use_boxes:
            boxes = boxes[:, :0]
        whole = tf.tile(tf.constant([[[0.0, 0.0, 1.0, 1.0]]], boxes.dtype), [batch, 1, 1])
        boxes = tf.cast(tf.concat([boxes, whole], axis=1), tf.float32)
        height, width = tf.shape(features)[1], tf.shape(features)[2]
        channels, size = features.shape[-1], self.pool_size
        rows = _sampling_weights(boxes[..., 0], boxes[..., 2], height, size)  # (B, R+1, P, h)
        cols = _sampling_weights(boxes[..., 1], boxes[..., 3], width, size)  # (B, R+1, P, w)
        # One (R+1) P P x h w weight matrix per image and one batched matmul:
        # no intermediate as large as the output (two einsums were 5x slower).
        weights = rows[:, :, :, None, :, None] * cols[:, :, None, :, None, :]
        weights = tf.reshape(weights, (batch, -1, height * width))
        flat = tf.reshape(tf.cast(features, tf.float32), (batch, height * width, channels))
        pooled = tf.matmul(weights, flat)  # (B, (R+1) P P, C)
        return tf.cast(tf.reshape(pooled, (batch, -1, size, size, channels)), features.dtype)

    def compute_output_shape(self, features_shape, boxes_shape):
        regions = boxes_shape[1] if self.use_boxes else 0
        regions = None if regions is None else regions + 1
        return (features_shape[0], regions, self.pool_size, self.pool_size,
                features_shape[-1])

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "use_boxes": self.use_boxes}


@keras.saving.register_keras_serializable(package="agnet")
class RegionSEResidual(keras.layers.Layer):
    """A separate SE-residual block for each region ("the respective
    SE-Residual block"), computed for all regions at once: region r of
    (B, R, H, W, C) gets ``x + x * sigmoid(W2_r relu(W1_r GAP(x) + b1_r) + b2_r)``,
    the same as ``common.layers.SEResidual`` with its own weights."""

    def __init__(self, reduction=16, **kwargs):
        super().__init__(**kwargs)
        self.reduction = int(reduction)

    def build(self, input_shape):
        regions, channels = input_shape[1], input_shape[-1]
        hidden = max(1, channels // self.reduction)
        self.w1 = self.add_weight(name="squeeze_kernel", shape=(regions, channels, hidden),
                                  initializer="glorot_uniform")
        self.b1 = self.add_weight(name="squeeze_bias", shape=(regions, hidden),
                                  initializer="zeros")
        self.w2 = self.add_weight(name="excite_kernel", shape=(regions, hidden, channels),
                                  initializer="glorot_uniform")
        self.b2 = self.add_weight(name="excite_bias", shape=(regions, channels),
                                  initializer="zeros")

    def call(self, x):
        pooled = ops.mean(x, axis=(2, 3))  # (B, R, C)
        hidden = ops.relu(ops.einsum("brc,rch->brh", pooled, self.w1) + self.b1)
        scale = ops.sigmoid(ops.einsum("brh,rhc->brc", hidden, self.w2) + self.b2)
        return x + x * scale[:, :, None, None, :]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "reduction": self.reduction}


NORMALIZATIONS = ("softmax", "sum")


@keras.saving.register_keras_serializable(package="agnet")
class InterRegionAttention(keras.layers.Layer):
    """AG-Net eq. 2 on flattened region features f (B, R, D):
    ``u_rr' = tanh(W_u f_r + W_u' f_r' + b_u)``, ``m_rr' = sigmoid(W_m u_rr' + b_m)``,
    then ``alpha_r = sum_r' a_rr' f_r'``. Output (B, R, D).

    Eq. 2 is the additive self-attention of keras-self-attention's
    ``SeqSelfAttention(attention_activation="sigmoid")``, the authors' layer:
    it normalises each row of sigmoid scores with a softmax over r' before
    the weighted sum, so each alpha_r is a weighted *mean* of the region
    features (``normalize="softmax"``, ``a_rr' = softmax_r'(m_rr')``, the
    default). Read literally, the equation is a *sum* (``normalize="sum"``,
    ``a_rr' = m_rr'``): with R = 37 regions and sigmoids near 0.66 it makes
    alpha about 24x one region's features, and the demo's training loss
    then sat at ln(10) for 2 to 8 epochs (issue 29). The sum is kept for
    the ablation (``agnet-train --inter-attention sum``).

    Args:
        units: width U of the hidden scores u (32).
        normalize: ``"softmax"`` (default) or ``"sum"``. A config without
            the key (models saved before the option existed) loads as
            ``"sum"``, the behaviour those models were trained with.

    References:
        Bera et al., Attend and Guide (AG-Net), IEEE TIP 2021, eq. 2;
        CyberZHG/keras-self-attention, ``SeqSelfAttention``.
    """

    def __init__(self, units=32, normalize="softmax", **kwargs):
        super().__init__(**kwargs)
        if normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
        self.units = int(units)
        self.normalize = normalize

    def build(self, input_shape):
        dim = input_shape[-1]
        self.w_u = self.add_weight(name="w_u", shape=(dim, self.units))
        self.w_u2 = self.add_weight(name="w_u_prime", shape=(dim, self.units))
        self.b_u = self.add_weight(name="b_u", shape=(self.units,), initializer="zeros")
        self.w_m = self.add_weight(name="w_m", shape=(self.units, 1))
        self.b_m = self.add_weight(name="b_m", shape=(1,), initializer="zeros")

    def call(self, f):
        own = ops.matmul(f, self.w_u)  # (B, R, U)
        other = ops.matmul(f, self.w_u2)
        u = ops.tanh(own[:, :, None, :] + other[:, None, :, :] + self.b_u)  # (B, R, R, U)
        m = ops.sigmoid(ops.matmul(u, self.w_m) + self.b_m)[..., 0]  # (B, R, R)
        if self.normalize == "softmax":
            m = softmax32(m, axis=-1)  # each row sums to 1 over r'
        return ops.matmul(m, f)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "units": self.units, "normalize": self.normalize}

    @classmethod
    def from_config(cls, config):
        # Saved before `normalize` existed: those models summed (the old
        # call), so they reload with the sum they were trained with.
        return cls(**{"normalize": "sum", **config})


@keras.saving.register_keras_serializable(package="agnet")
class RegionImportance(keras.layers.Layer):
    """AG-Net eq. 3: ``w = softmax_r(W_alpha alpha_r + b_alpha)``,
    ``f_hat = sum_r w_r alpha_r``. (B, R, D) -> (B, D)."""

    def build(self, input_shape):
        self.score = keras.layers.Dense(1, name="score", dtype=self.dtype_policy)
        self.score.build(input_shape)

    def region_weights(self, alpha):
        """(B, R, 1) importance weights w of the regions (softmax in float32)."""
        return softmax32(self.score(alpha), axis=1)

    def call(self, alpha):
        return ops.sum(self.region_weights(alpha) * alpha, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])
