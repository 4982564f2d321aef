"""The Grad-CAM guide (RRR-G) against NumPy: a stride-1 network whose CAM
grid is the image's, so the true class's map is features @ kernel + bias,
rectified, squared inside the mask; its gradient against central
differences; Grad-CAM of the toolkit equals the rectified CAM it uses."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import common
from tests.common.annotated_data import stride_one_network
from tests.common.numeric import central_differences

B, S, C, F = 4, 6, 3, 5


def _network():
    return stride_one_network(S, C, F, seed=2)


def _batch():
    rng = np.random.default_rng(3)
    x = rng.random((B, S, S, 3)).astype("float32")
    ignore = np.zeros((B, S, S), "float32")
    ignore[:, :2, :3] = 1.0
    ignore[1] = 0.0
    return x, ignore, np.array([0, 1, 2, 1])


def _reference(features, kernel, bias, ignore, labels, weight):
    cams = np.einsum("bhwf,fk->bhwk", features.astype(np.float64), kernel) + bias
    true = np.maximum(cams[np.arange(len(labels)), :, :, labels], 0.0)
    return weight * np.mean(np.mean((true * ignore) ** 2, axis=(1, 2)))


def test_the_term_and_its_gradient_match_numpy():
    network = _network()
    guide = common.GradCamPenalty(3.0)
    model = common.GuidedClassifier(network, guides=[guide])
    x, ignore, y = _batch()
    features = keras.Model(network.inputs[0], network.get_layer("features").output)(x).numpy()
    dense = network.layers[-1]
    kernel, bias = dense.kernel.numpy().astype(np.float64), dense.bias.numpy()
    with tf.GradientTape() as tape:
        step = model.step({"image": tf.constant(x), "ignore": tf.constant(ignore)}, y,
                          training=True)
        term = guide.terms(step)["gradcam_loss"]
    assert float(term) == pytest.approx(_reference(features, kernel, bias, ignore, y, 3.0),
                                        rel=1e-5)
    analytic = tape.gradient(term, dense.kernel).numpy()
    numeric = central_differences(
        lambda k: _reference(features, k, bias, ignore, y, 3.0), kernel)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-3, atol=1e-7)


def test_its_map_is_the_toolkits_grad_cam_before_normalisation():
    network = _network()
    x, ignore, y = _batch()
    model = common.GuidedClassifier(network, guides=[common.GradCamPenalty()])
    step = model.step({"image": tf.constant(x), "ignore": tf.constant(ignore)}, y)
    rectified = tf.nn.relu(step.true_class_cams()).numpy()
    heatmaps = common.GradCAM(network, "features")(x, class_index=y).numpy()
    expected = rectified / np.maximum(rectified.max(axis=(1, 2), keepdims=True), 1e-12)
    np.testing.assert_allclose(heatmaps, expected, atol=1e-5)


def test_fit_lowers_the_map_inside_the_masks_and_bad_input_is_one_line():
    network = _network()
    model = common.GuidedClassifier(network, guides=[common.GradCamPenalty(10.0)])
    model.compile(keras.optimizers.Adam(0.02), "sparse_categorical_crossentropy")
    x, ignore, y = _batch()
    history = model.fit({"image": x, "ignore": ignore}, y, epochs=20, verbose=0).history
    assert history["gradcam_loss"][-1] < history["gradcam_loss"][0] / 5
    with pytest.raises(ValueError, match="weight must be >= 0"):
        common.GradCamPenalty(-1)
    model = common.GuidedClassifier(_network(), guides=[common.GradCamPenalty()])
    model.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="GradCamPenalty: the inputs have no 'ignore'"):
        model.fit(x, y, epochs=1, verbose=0)
