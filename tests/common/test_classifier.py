"""GuidedClassifier's hook contract: trackers from the declared extra-loss
weights, clear errors, and each model's own CAMs (FAM's against NumPy)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from common.backbones import build_backbone
from common.classifier import GuidedClassifier, build_cam_classifier
from fam.model import build_fam


def _network(size=16, classes=3):
    return build_cam_classifier(build_backbone("tiny", (size, size, 3)), classes)


def _data(size=16, n=6, classes=3):
    rng = np.random.default_rng(0)
    return (rng.random((n, size, size, 3)).astype("float32"), np.arange(n) % classes)


class _Probe(GuidedClassifier):
    """Declares one extra term and one statistic."""

    monitored = ("mean_probability",)

    def __init__(self, network, weight=2.0, **kwargs):
        super().__init__(network, **kwargs)
        self.extra_loss_weights["square"] = weight

    def extra_losses(self, x, y, features, y_pred):
        return {**super().extra_losses(x, y, features, y_pred),
                "square": tf.reduce_mean(tf.square(tf.cast(features, tf.float32)))}

    def statistics(self, x, y, features, y_pred):
        return {"mean_probability": tf.reduce_mean(y_pred)}


def test_trackers_come_from_the_declared_weights():
    x, y = _data()
    model = _Probe(_network())
    model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
    logs = model.evaluate(x, y, batch_size=6, verbose=0, return_dict=True)
    features = model.tapped(x)[0].numpy()
    assert logs["square"] == pytest.approx(2.0 * np.mean(features ** 2), rel=1e-5)
    assert logs["mean_probability"] == pytest.approx(1 / 3, rel=1e-5)
    ce = keras.losses.sparse_categorical_crossentropy(y, model.network(x)).numpy().mean()
    assert logs["loss"] == pytest.approx(ce + logs["square"], rel=1e-5)
    silent = _Probe(_network(), weight=0.0)  # a zero weight: neither computed nor shown
    silent.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
    assert "square" not in silent.evaluate(x, y, verbose=0, return_dict=True)


def test_an_undeclared_term_is_a_clear_error():
    class Undeclared(GuidedClassifier):
        def statistics(self, x, y, features, y_pred):
            return {"surprise": tf.constant(1.0)}

    model = Undeclared(_network())
    model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
    with pytest.raises(KeyError, match="'surprise'.*neither in extra_loss_weights"):
        model.evaluate(*_data(), verbose=0)


def test_hnc_needs_class_activation_maps():
    inputs = keras.Input((16, 16, 3))
    x = build_backbone("tiny", (16, 16, 3))(inputs)
    x = keras.layers.GlobalMaxPooling2D()(x)  # GMP: the CAMs do not decompose the logits
    network = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    assert not GuidedClassifier(network).has_cams()
    assert GuidedClassifier(_network()).has_cams()
    model = GuidedClassifier(network, hnc_weight=0.1)
    with pytest.raises(ValueError, match="no class activation maps"):
        model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
        model.evaluate(*_data(), verbose=0)


def test_fam_cams_decompose_its_logits_and_feed_hnc():
    """FAM's class maps, recomputed in NumPy from its part maps, importance
    weights and classifier: their spatial mean is the logit, and the HNC
    term is computed on them."""
    keras.utils.set_random_seed(2)
    model = build_fam(build_backbone("tiny", (16, 16, 3)), 3, hnc_weight=0.5, hnc_k=1)
    net = model.network
    x, y = _data()
    features = model.tapped(x)[0].numpy()
    parts = keras.Model(net.input, net.get_layer("parts").output)(x).numpy()
    part_features = keras.Model(net.input, net.get_layer("part_features").output)(x).numpy()
    kernel, bias = (w.numpy() for w in net.get_layer("part_importance").score.weights)
    scores = (part_features @ kernel + bias)[..., 0]
    t = np.exp(scores - scores.max(1, keepdims=True))
    t /= t.sum(1, keepdims=True)
    w, b = (v.numpy() for v in net.get_layer("classifier").weights)
    expected = (np.einsum("bhwk,bk->bhw", parts, t)[..., None]
                * np.einsum("bhwc,cn->bhwn", features, w) + b)
    cams = model.cams(features).numpy()
    np.testing.assert_allclose(cams, expected, rtol=1e-4, atol=1e-5)
    logits = np.log(net(x).numpy())
    centred = cams.mean(axis=(1, 2))
    np.testing.assert_allclose(centred - centred.mean(1, keepdims=True),
                               logits - logits.mean(1, keepdims=True), atol=1e-4)
    model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
    logs = model.evaluate(x, y, batch_size=6, verbose=0, return_dict=True)
    negatives = [max((j for j in range(3) if j != y[i]), key=lambda j: expected[i, ..., j].sum())
                 for i in range(6)]
    hnc = np.mean([np.mean(expected[i, ..., j] ** 2) for i, j in enumerate(negatives)])
    assert logs["hnc_loss"] == pytest.approx(0.5 * hnc, rel=1e-4)
