"""Keras layers shared by the methods: self-attention, SE-residual,
learnable GAP/GMP pooling and the foreground memory read."""

import keras
from keras import ops


def softmax32(x, axis=-1):
    """Softmax computed in float32 (exp overflows float16 above ~11), returned
    in ``x``'s dtype: the attention weights of mixed-precision models. Over
    an axis of one element it is 1 (AG-Net without regions has one), said
    without Keras's warning for that case."""
    if x.shape[axis] == 1:
        return ops.ones_like(x)
    return ops.cast(ops.softmax(ops.cast(x, "float32"), axis=axis), x.dtype)


def _conv1x1(filters, name, spectral_norm, dtype):
    conv = keras.layers.Conv2D(filters, 1, name=name, dtype=dtype)
    if spectral_norm:
        return keras.layers.SpectralNormalization(conv, name=f"{name}_sn", dtype=dtype)
    return conv


@keras.saving.register_keras_serializable(package="common")
class SelfAttention2D(keras.layers.Layer):
    """SAGAN self-attention over the positions of a (B, H, W, C) map.

    Queries and keys are 1x1 convs to C // reduction channels, values a 1x1
    conv to C channels; each output position attends (softmax) over all H*W
    input positions. Returns ``gamma * attended + x`` with ``gamma`` a
    learnable scalar initialised to 0, so the layer starts as the identity.

    Args:
        reduction: channel reduction of queries and keys (SAGAN uses 8).
        spectral_norm: wrap the three 1x1 convs in
            ``keras.layers.SpectralNormalization`` (as SAGAN does).
    """

    def __init__(self, reduction=8, spectral_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.reduction = int(reduction)
        self.spectral_norm = bool(spectral_norm)

    def build(self, input_shape):
        channels = input_shape[-1]
        inner = max(1, channels // self.reduction)
        self.query = _conv1x1(inner, "query", self.spectral_norm, self.dtype_policy)
        self.key = _conv1x1(inner, "key", self.spectral_norm, self.dtype_policy)
        self.value = _conv1x1(channels, "value", self.spectral_norm, self.dtype_policy)
        for conv in (self.query, self.key, self.value):
            conv.build(input_shape)
        self.gamma = self.add_weight(name="gamma", shape=(), initializer="zeros")

    def call(self, x, training=None):
        batch, height, width = ops.shape(x)[0], ops.shape(x)[1], ops.shape(x)[2]
        channels = x.shape[-1]
        q = ops.reshape(self.query(x, training=training), (batch, height * width, -1))
        k = ops.reshape(self.key(x, training=training), (batch, height * width, -1))
        v = ops.reshape(self.value(x, training=training), (batch, height * width, channels))
        attention = softmax32(ops.matmul(q, ops.transpose(k, (0, 2, 1))), axis=-1)
        attended = ops.reshape(ops.matmul(attention, v), (batch, height, width, channels))
        return ops.cast(self.gamma, x.dtype) * attended + x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "reduction": self.reduction,
                "spectral_norm": self.spectral_norm}


@keras.saving.register_keras_serializable(package="common")
class SEResidual(keras.layers.Layer):
    """Squeeze-and-excitation with a residual path: ``x + x * SE(x)``.

    SE(x) = sigmoid(Dense_C(relu(Dense_{C/r}(GAP(x))))). Works on
    (B, H, W, C) and on (B, R, H, W, C): the pooling is over the two axes
    before the channels, so the same weights serve every region.

    Args:
        reduction: bottleneck ratio r of the excitation (16 in SENet).
    """

    def __init__(self, reduction=16, **kwargs):
        super().__init__(**kwargs)
        self.reduction = int(reduction)

    def build(self, input_shape):
        channels = input_shape[-1]
        self.squeeze = keras.layers.Dense(max(1, channels // self.reduction),
                                          activation="relu", name="squeeze",
                                          dtype=self.dtype_policy)
        self.excite = keras.layers.Dense(channels, activation="sigmoid", name="excite",
                                         dtype=self.dtype_policy)
        self.squeeze.build((None, channels))
        self.excite.build((None, self.squeeze.units))

    def call(self, x):
        pooled = ops.mean(x, axis=(-3, -2), keepdims=True)  # (..., 1, 1, C)
        scale = self.excite(self.squeeze(pooled))
        return x + x * scale

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "reduction": self.reduction}


@keras.saving.register_keras_serializable(package="common")
class GapGmpPooling(keras.layers.Layer):
    """Learnable mix of global average and global max pooling (AG-Net eq. 4).

    A Dense(1) shared by both pooled vectors scores each; the two scores go
    through one softmax, so ``w_gmp + w_gap = 1`` per example:
    ``out = w_gmp * GMP(x) + w_gap * GAP(x)``. (A softmax over a single
    score is always 1, which silently turns the mix into pure GMP.)

    Input (B, H, W, C) -> output (B, C).
    """

    def build(self, input_shape):
        self.score = keras.layers.Dense(1, name="score", dtype=self.dtype_policy)
        self.score.build((None, input_shape[-1]))

    def call(self, x):
        p_gap = ops.mean(x, axis=(1, 2))
        p_gmp = ops.max(x, axis=(1, 2))
        scores = ops.concatenate([self.score(p_gmp), self.score(p_gap)], axis=-1)
        w = softmax32(scores, axis=-1)  # (B, 2)
        return w[:, :1] * p_gmp + w[:, 1:] * p_gap

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


@keras.saving.register_keras_serializable(package="common")
class MemoryRead(keras.layers.Layer):
    """FAM's foreground memory read: a class-agnostic foreground map.

    The memory holds ``num_slots`` learnable keys (N, key_dim) and values
    (N, C). Each position's query (a 1x1 conv of x to key_dim channels) is
    compared with the keys, ``beta_n = q . k_n / sqrt(key_dim)``, and read
    weights are ``s = softmax_n(beta)``. The paper writes
    ``beta / sum_n beta``, which divides by a sum that can be zero or
    negative; the softmax is the standard key-value memory read. The read
    value is a per-pixel classifier ``w = sum_n s_n v_n`` and the map is
    ``M = sigmoid(sum_c w_c x_c)``.

    Input (B, H, W, C) -> M (B, H, W, 1) in (0, 1).

    Args:
        num_slots: number of memory templates N (3 in FAM).
        key_dim: width of keys and queries; default C // 16.
    """

    def __init__(self, num_slots=3, key_dim=None, **kwargs):
        super().__init__(**kwargs)
        self.num_slots = int(num_slots)
        self.key_dim = None if key_dim is None else int(key_dim)

    def build(self, input_shape):
        channels = input_shape[-1]
        dim = self.key_dim or max(1, channels // 16)
        self._dim = dim
        self.encoder = keras.layers.Conv2D(dim, 1, name="query_encoder",
                                           dtype=self.dtype_policy)
        self.encoder.build(input_shape)
        self.keys = self.add_weight(name="keys", shape=(self.num_slots, dim),
                                    initializer="glorot_uniform")
        self.values = self.add_weight(name="values", shape=(self.num_slots, channels),
                                      initializer="glorot_uniform")

    def call(self, x):
        q = self.encoder(x)  # (B, H, W, D)
        keys = ops.cast(self.keys, q.dtype)
        beta = ops.einsum("bhwd,nd->bhwn", q, keys) / ops.sqrt(
            ops.cast(self._dim, q.dtype))
        s = softmax32(beta, axis=-1)
        w = ops.einsum("bhwn,nc->bhwc", s, ops.cast(self.values, q.dtype))
        return ops.sigmoid(ops.sum(w * x, axis=-1, keepdims=True))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (1,)

    def get_config(self):
        return {**super().get_config(), "num_slots": self.num_slots,
                "key_dim": self.key_dim}
