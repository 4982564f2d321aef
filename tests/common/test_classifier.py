"""GuidedClassifier's guide contract: trackers from the declared names, clear
errors, and each model's own CAMs (FAM's against NumPy)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from common.backbones import build_backbone
from common.classifier import GuidedClassifier, build_cam_classifier
from common.guidance import Guide, HomogeneousNegativeCam
from fam.model import build_fam


def _network(size=16, classes=3):
    return build_cam_classifier(build_backbone("tiny", (size, size, 3)), classes)


def _data(size=16, n=6, classes=3):
    rng = np.random.default_rng(0)
    return (rng.random((n, size, size, 3)).astype("float32"), np.arange(n) % classes)


class _Probe(Guide):
    """Declares one term and one statistic."""

    def __init__(self, weight=2.0, name="square"):
        self.weight, self.name = weight, name

    def term_names(self):
        return (self.name,) if self.weight else ()

    def statistic_names(self):
        return ("mean_probability",)

    def terms(self, step):
        if not self.weight:
            return {}
        return {self.name: self.weight * tf.reduce_mean(tf.square(tf.cast(step.features,
                                                                        tf.float32)))}

    def statistics(self, step):
        return {"mean_probability": tf.reduce_mean(step.predictions)}


def test_trackers_come_from_the_declared_names():
    x, y = _data()
    model = GuidedClassifier(_network(), guides=[_Probe()])
    model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
    logs = model.evaluate(x, y, batch_size=6, verbose=0, return_dict=True)
    features = model.tapped(x)[0].numpy()
    assert logs["square"] == pytest.approx(2.0 * np.mean(features ** 2), rel=1e-5)
    assert logs["mean_probability"] == pytest.approx(1 / 3, rel=1e-5)
    ce = keras.losses.sparse_categorical_crossentropy(y, model.network(x)).numpy().mean()
    assert logs["loss"] == pytest.approx(ce + logs["square"], rel=1e-5)
    silent = GuidedClassifier(_network(), guides=[_Probe(weight=0.0)])  # nothing declared
    silent.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
    assert "square" not in silent.evaluate(x, y, verbose=0, return_dict=True)


def test_an_undeclared_term_is_a_clear_error():
    class Undeclared(Guide):
        def terms(self, step):
            return {"surprise": tf.constant(1.0)}

    model = GuidedClassifier(_network(), guides=[Undeclared()])
    model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
    with pytest.raises(KeyError, match="returned \\['surprise'\\].*declares \\[\\]"):
        model.evaluate(*_data(), verbose=0)


def test_clashing_names_are_refused_at_construction():
    with pytest.raises(ValueError, match="both declare 'square'"):
        GuidedClassifier(_network(), guides=[_Probe(), _Probe()])
    with pytest.raises(ValueError, match="reserved name 'loss'"):
        GuidedClassifier(_network(), guides=[_Probe(name="loss")])


def test_a_cam_guide_needs_class_activation_maps():
    inputs = keras.Input((16, 16, 3))
    x = build_backbone("tiny", (16, 16, 3))(inputs)
    x = keras.layers.GlobalMaxPooling2D()(x)  # GMP: the CAMs do not decompose the logits
    network = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    assert GuidedClassifier(network).cam_source is None
    assert GuidedClassifier(_network()).cam_source is not None
    with pytest.raises(ValueError, match="HomogeneousNegativeCam needs class activation "
                                         "maps.*no CAM head: expected a GAP"):
        GuidedClassifier(network, guides=[HomogeneousNegativeCam(0.1)])


def test_fam_cams_decompose_its_logits_and_feed_hnc():
    """FAM's class maps, recomputed in NumPy from its part maps, importance
    weights and classifier: their spatial mean is the logit, and the HNC
    term is computed on them."""
    keras.utils.set_random_seed(2)
    model = build_fam(build_backbone("tiny", (16, 16, 3)), 3,
                      guides=[HomogeneousNegativeCam(0.5, k=1)])
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
