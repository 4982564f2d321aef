"""Homogeneous negative CAM loss against a NumPy loop over images."""

import numpy as np
import pytest
import tensorflow as tf

from common.losses import homogeneous_negative_cam_loss


def _reference(cams, labels, k, variant, temperature=1.0):
    batch, h, w, c = cams.shape
    selected_terms, total = [], 0.0
    for b in range(batch):
        positives = set(np.flatnonzero(labels[b])) if labels.ndim == 2 else {labels[b]}
        negatives = [j for j in range(c) if j not in positives]
        negatives.sort(key=lambda j: -cams[b, :, :, j].sum())
        chosen = negatives if k is None else negatives[:k]
        for j in chosen:
            cam = cams[b, :, :, j].ravel()
            if variant == "mse":
                selected_terms.append(np.mean(cam ** 2))
            else:
                z = cam / temperature
                log_p = z - z.max() - np.log(np.exp(z - z.max()).sum())
                total += -np.mean(log_p)  # CE(uniform, softmax)
    if variant == "mse":
        return np.mean(selected_terms) if selected_terms else 0.0
    return total / batch


def network_cams(network, images):
    """(B, h, w, C) float64 CAMs of a backbone -> ``gap`` -> Dense
    ``classifier`` network as a train step sees them (batch statistics): the
    Dense layer at every position of the feature map. Computed on a copy, so
    the network's moving statistics stay as they are."""
    import keras
    copy = keras.models.clone_model(network)
    copy.set_weights(network.get_weights())
    features = keras.Model(copy.input, copy.get_layer("gap").input)(images, training=True)
    kernel, bias = (np.asarray(w, np.float64) for w in copy.get_layer("classifier").weights)
    return np.asarray(features, np.float64) @ kernel + bias


@pytest.mark.parametrize("variant", ["mse", "kd"])
@pytest.mark.parametrize("k", [1, 3, 5, 9, None])
def test_single_label_matches_numpy(variant, k):
    rng = np.random.default_rng(k or 0)
    cams = rng.normal(size=(4, 3, 5, 6)).astype("float32")
    labels = np.array([0, 5, 2, 2])
    got = homogeneous_negative_cam_loss(cams, labels, k=k, variant=variant, temperature=0.7)
    np.testing.assert_allclose(float(got), _reference(cams, labels, k, variant, 0.7),
                               rtol=1e-5)


@pytest.mark.parametrize("variant", ["mse", "kd"])
@pytest.mark.parametrize("k", [2, 4, 10])
def test_multi_label_excludes_every_positive(variant, k):
    rng = np.random.default_rng(1)
    cams = rng.normal(size=(3, 4, 4, 6)).astype("float32")
    labels = np.array([[1, 0, 1, 0, 0, 0], [0, 0, 0, 0, 1, 1], [1, 1, 1, 0, 0, 0]],
                      np.float32)
    cams += 5.0 * labels[:, None, None, :]  # positives would rank first if they were not excluded
    got = homogeneous_negative_cam_loss(cams, labels, k=k, variant=variant)
    np.testing.assert_allclose(float(got), _reference(cams, labels, k, variant), rtol=1e-5)


@pytest.mark.parametrize("variant", ["mse", "kd"])
def test_gradient_reaches_only_selected_negative_cams(variant):
    rng = np.random.default_rng(2)
    cams = tf.Variable(rng.normal(size=(2, 3, 3, 5)).astype("float32"))
    labels = np.array([1, 3])
    with tf.GradientTape() as tape:
        loss = homogeneous_negative_cam_loss(cams, labels, k=2, variant=variant)
    grad = tape.gradient(loss, cams).numpy()
    sums = cams.numpy().sum(axis=(1, 2))
    for b in range(2):
        negatives = [j for j in range(5) if j != labels[b]]
        top = set(sorted(negatives, key=lambda j: -sums[b, j])[:2])
        for j in range(5):
            reached = np.abs(grad[b, :, :, j]).sum() > 0
            assert reached == (j in top), (b, j)


def test_bad_variant_is_rejected():
    with pytest.raises(ValueError, match="variant"):
        homogeneous_negative_cam_loss(np.zeros((1, 2, 2, 3), "float32"), [0], variant="l1")


def test_hnc_in_a_multi_label_mixed_precision_train_step():
    import keras

    from common.backbones import build_backbone
    from common.classifier import GuidedClassifier, build_cam_classifier
    from common.guidance import HomogeneousNegativeCam
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        network = build_cam_classifier(build_backbone("tiny", (16, 16, 3)), 4,
                                       multi_label=True)
        model = GuidedClassifier(network, guides=[
            HomogeneousNegativeCam(0.5, k=2, variant="kd")])
        model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy")
        x = np.random.rand(8, 16, 16, 3).astype("float32")
        y = (np.random.rand(8, 4) > 0.5).astype("float32")
        # the first epoch's one step: the term at the starting weights
        expected = 0.5 * _reference(network_cams(network, x), y, 2, "kd")
        history = model.fit(x, y, batch_size=8, epochs=2, verbose=0).history
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert network.get_layer("gap").compute_dtype == "float16"
    assert history["hnc_loss"][0] == pytest.approx(expected, rel=1e-4)
    assert all(np.isfinite(history["hnc_loss"]))
    assert all(np.isfinite(history["loss"]))
