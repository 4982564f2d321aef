"""Shared layers against NumPy references, save/load and MirroredStrategy."""

import keras
import numpy as np
import pytest

from common.layers import GapGmpPooling, MemoryRead, SEResidual, SelfAttention2D


def _softmax(z, axis=-1):
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _conv1x1(x, conv):
    kernel, bias = (np.asarray(w) for w in conv.weights)
    return x @ kernel[0, 0] + bias


def test_self_attention_is_identity_at_init():
    x = np.random.rand(2, 4, 5, 8).astype("float32")
    layer = SelfAttention2D()
    np.testing.assert_allclose(layer(x), x, atol=0)


def test_self_attention_matches_numpy():
    x = np.random.rand(2, 4, 5, 16).astype("float32")
    layer = SelfAttention2D(reduction=8)
    layer(x)
    layer.gamma.assign(0.7)
    b, h, w, c = x.shape
    q = _conv1x1(x, layer.query).reshape(b, h * w, -1)
    k = _conv1x1(x, layer.key).reshape(b, h * w, -1)
    v = _conv1x1(x, layer.value).reshape(b, h * w, c)
    assert q.shape[-1] == 2  # C / reduction
    attention = _softmax(q @ k.transpose(0, 2, 1), axis=-1)
    expected = 0.7 * (attention @ v).reshape(b, h, w, c) + x
    np.testing.assert_allclose(layer(x), expected, rtol=1e-5, atol=1e-5)


def test_self_attention_spectral_norm_wraps_convs():
    layer = SelfAttention2D(spectral_norm=True)
    layer(np.random.rand(1, 3, 3, 8).astype("float32"))
    assert isinstance(layer.query, keras.layers.SpectralNormalization)


def _se_reference(x, layer):
    w1, b1 = (np.asarray(v) for v in layer.squeeze.weights)
    w2, b2 = (np.asarray(v) for v in layer.excite.weights)
    pooled = x.mean(axis=(-3, -2))
    scale = _sigmoid(np.maximum(pooled @ w1 + b1, 0) @ w2 + b2)
    return x + x * scale[..., None, None, :]


def test_se_residual_matches_numpy_with_and_without_region_axis():
    layer = SEResidual(reduction=4)
    x4 = np.random.randn(2, 3, 3, 8).astype("float32")
    np.testing.assert_allclose(layer(x4), _se_reference(x4, layer), rtol=1e-5, atol=1e-6)
    x5 = np.random.randn(2, 5, 3, 3, 8).astype("float32")
    out5 = np.asarray(layer(x5))
    np.testing.assert_allclose(out5, _se_reference(x5, layer), rtol=1e-5, atol=1e-6)
    # Weights are shared across regions: region r equals the 4-D call on it.
    np.testing.assert_allclose(out5[:, 2], layer(x5[:, 2]), rtol=1e-5, atol=1e-6)


def test_gap_gmp_pooling_matches_eq4():
    x = np.random.randn(3, 4, 4, 6).astype("float32")
    layer = GapGmpPooling()
    layer(x)
    layer.score.set_weights([np.random.randn(6, 1).astype("float32"),
                             np.array([0.3], "float32")])
    kernel, bias = (np.asarray(v) for v in layer.score.weights)
    gap, gmp = x.mean(axis=(1, 2)), x.max(axis=(1, 2))
    w = _softmax(np.concatenate([gmp @ kernel + bias, gap @ kernel + bias], axis=-1))
    expected = w[:, :1] * gmp + w[:, 1:] * gap
    out = np.asarray(layer(x))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    # A real mix: neither pure GMP (the single-logit softmax bug) nor pure GAP.
    assert not np.allclose(out, gmp) and not np.allclose(out, gap)


def test_memory_read_matches_numpy():
    x = np.random.randn(2, 4, 5, 32).astype("float32")
    layer = MemoryRead(num_slots=3)
    out = np.asarray(layer(x))
    assert layer.keys.shape == (3, 2) and layer.values.shape == (3, 32)
    q = _conv1x1(x, layer.encoder)
    beta = q @ np.asarray(layer.keys).T / np.sqrt(2.0)
    s = _softmax(beta, axis=-1)
    w = s @ np.asarray(layer.values)
    expected = _sigmoid((w * x).sum(-1, keepdims=True))
    assert out.shape == (2, 4, 5, 1)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    assert MemoryRead(key_dim=5)(x).shape == (2, 4, 5, 1)


def _all_layers_model():
    inputs = keras.Input((6, 6, 16))
    x = SelfAttention2D(name="sa")(inputs)
    x = SEResidual(reduction=4, name="se")(x)
    m = MemoryRead(num_slots=2, name="mem")(x)
    pooled = GapGmpPooling(name="pool")(x * m)
    outputs = keras.layers.Dense(3, activation="softmax")(pooled)
    return keras.Model(inputs, outputs)


def test_layers_round_trip_in_fresh_process(tmp_path, run_python):
    model = _all_layers_model()
    model.get_layer("sa").gamma.assign(0.5)  # make attention matter
    x = np.random.rand(4, 6, 6, 16).astype("float32")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", model.predict(x, verbose=0))
    model.save(tmp_path / "m.keras")
    run_python(f"""
import numpy as np
from common.saving import load_model
m = load_model(r"{tmp_path / 'm.keras'}")
np.testing.assert_array_equal(m.predict(np.load(r"{tmp_path / 'x.npy'}"), verbose=0),
                              np.load(r"{tmp_path / 'y.npy'}"))
""")


def test_layers_train_under_mirrored_strategy(mirrored):
    x = np.random.rand(8, 6, 6, 16).astype("float32")
    y = np.random.randint(0, 3, 8)
    with mirrored.scope():
        model = _all_layers_model()
        model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    assert mirrored.num_replicas_in_sync == 2
    before = [np.array(w) for w in model.weights]
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    reference = _all_layers_model()
    reference.set_weights(before)
    reference.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    reference.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    for got, want in zip(model.weights, reference.weights):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-5)
    assert not np.allclose(before[0], np.asarray(model.weights[0]))


@pytest.mark.parametrize("cls, arguments", [
    (SelfAttention2D, {"reduction": 4, "spectral_norm": True}), (SEResidual, {"reduction": 2}),
    (GapGmpPooling, {}), (MemoryRead, {"num_slots": 4, "key_dim": 3})])
def test_get_config_returns_every_constructor_argument(cls, arguments):
    """Non-default values of every argument of __init__ come back from
    get_config and survive from_config (a dropped one fails here)."""
    import inspect
    own = [name for name, p in inspect.signature(cls.__init__).parameters.items()
           if name != "self" and p.kind is p.POSITIONAL_OR_KEYWORD]
    assert sorted(own) == sorted(arguments)
    layer = cls(**arguments, name="probe")
    config = layer.get_config()
    for name, value in arguments.items():
        assert config[name] == value, name
    clone = cls.from_config(config)
    for name, value in arguments.items():
        assert getattr(clone, name) == value, name
