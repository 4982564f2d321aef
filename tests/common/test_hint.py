"""HINT (Selvaraju et al. 2019) against NumPy: a stride-1 network whose CAM
grid is the image's, so the true class's importance is features @ kernel +
bias; the ranking loss over every pair of cells the ``attend`` mask ranks
apart, in a Python loop; its gradient against central differences; and
fit() with it brings the importance into the mask's order."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import common
from tests.common.annotated_data import stride_one_network
from tests.common.numeric import central_differences

B, S, C, F = 3, 4, 3, 5


def _network():
    return stride_one_network(S, C, F, seed=4)


def _batch():
    rng = np.random.default_rng(5)
    x = rng.random((B, S, S, 3)).astype("float32")
    attend = np.zeros((B, S, S), "float32")
    attend[0, 1:3, 1:3] = 1.0
    attend[1] = rng.random((S, S)).round(1)  # graded: every ordered pair counts
    return x, attend, np.array([0, 1, 2])  # image 2: a flat mask adds nothing


def _reference(features, kernel, bias, attend, labels, weight, margin):
    cams = np.einsum("bhwf,fk->bhwk", features.astype(np.float64), kernel) + bias
    losses = []
    for b, label in enumerate(labels):
        g, h = cams[b, :, :, label].ravel(), attend[b].ravel()
        pairs = [(i, j) for i in range(len(h)) for j in range(len(h)) if h[i] > h[j]]
        if pairs:
            losses.append(np.mean([max(0.0, g[j] - g[i] + margin * (h[i] - h[j]))
                                   for i, j in pairs]))
    return weight * np.mean(losses)


@pytest.mark.parametrize("margin", [0.0, 1.0])
def test_the_term_and_its_gradient_match_numpy(margin):
    network = _network()
    guide = common.Hint(2.0, margin)
    model = common.GuidedClassifier(network, guides=[guide])
    x, attend, y = _batch()
    features = keras.Model(network.inputs[0], network.get_layer("features").output)(x).numpy()
    dense = network.layers[-1]
    kernel, bias = dense.kernel.numpy().astype(np.float64), dense.bias.numpy()
    with tf.GradientTape() as tape:
        step = model.step({"image": tf.constant(x), "attend": tf.constant(attend)}, y,
                          training=True)
        total, count = guide.terms(step)["hint_loss"]
        term = total / count
    assert float(count) == 2
    expected = _reference(features, kernel, bias, attend, y, 2.0, margin)
    assert float(term) == pytest.approx(expected, rel=1e-5)
    numeric = central_differences(
        lambda k: _reference(features, k, bias, attend, y, 2.0, margin), kernel)
    np.testing.assert_allclose(tape.gradient(term, dense.kernel).numpy(), numeric,
                               rtol=1e-3, atol=1e-6)


def test_fit_brings_the_importance_into_the_masks_order():
    network = _network()
    model = common.GuidedClassifier(network, guides=[common.Hint(10.0)])
    model.compile(keras.optimizers.Adam(0.02), "sparse_categorical_crossentropy")
    x, attend, y = _batch()
    history = model.fit({"image": x, "attend": attend}, y, epochs=60, verbose=0).history
    assert history["hint_loss"][-1] < history["hint_loss"][0] / 4
    step = model.step({"image": x, "attend": attend}, y)
    cams = step.true_class_cams().numpy()
    inside, outside = cams[0][attend[0] > 0], cams[0][attend[0] == 0]
    assert inside.min() > outside.max() + 0.5  # image 0 now ranked like its mask


def test_bad_input_is_one_line():
    with pytest.raises(ValueError, match="Hint: weight and margin must be >= 0"):
        common.Hint(-0.5)
    model = common.GuidedClassifier(_network(), guides=[common.Hint()])
    model.compile("sgd", "sparse_categorical_crossentropy")
    x, _, y = _batch()
    with pytest.raises(ValueError, match="Hint: the inputs have no 'attend'"):
        model.fit(x, y, epochs=1, verbose=0)
