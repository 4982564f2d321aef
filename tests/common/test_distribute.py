"""tf.distribute: one custom train step under MirroredStrategy (two logical
CPUs) equals the default strategy on the same global batch."""


import keras
import numpy as np
import pytest
import tensorflow as tf

from common.backbones import build_backbone
from common.classifier import GuidedClassifier, build_cam_classifier
from common.guidance import HomogeneousNegativeCam
from common.training.distribute import get_strategy


def _one_step(strategy, initial, x, y):
    with strategy.scope():
        network = build_cam_classifier(build_backbone("tiny", (16, 16, 3)), 4)
        model = GuidedClassifier(network, guides=[HomogeneousNegativeCam(0.5, k=2)])
        model.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
    if initial is not None:
        network.set_weights(initial)
    start = [np.array(w) for w in network.weights]
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    history = model.fit(data, epochs=1, verbose=0)
    return start, [np.array(w) for w in network.weights], history.history


def test_mirrored_step_equals_default_step(mirrored):
    x = np.random.rand(8, 16, 16, 3).astype("float32")
    y = np.array([0, 1, 2, 3, 0, 1, 2, 3])
    start, single, h1 = _one_step(tf.distribute.get_strategy(), None, x, y)
    _, mirrored_weights, h2 = _one_step(mirrored, start, x, y)
    assert mirrored.num_replicas_in_sync == 2
    moved = [not np.allclose(a, b) for a, b in zip(start, single)]
    assert sum(moved) > len(moved) // 2
    for a, b in zip(single, mirrored_weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert h1["loss"][0] == pytest.approx(h2["loss"][0], rel=1e-4)
    assert h1["hnc_loss"][0] == pytest.approx(h2["hnc_loss"][0], rel=1e-4)


def test_get_strategy_choices(monkeypatch):
    assert get_strategy("default") is tf.distribute.get_strategy()
    gpus = len(tf.config.list_logical_devices("GPU"))
    assert get_strategy("auto").num_replicas_in_sync == (gpus if gpus > 1 else 1)
    with pytest.raises(ValueError, match="--strategy"):
        get_strategy("magic")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        get_strategy("multi_worker")


def _step(strategy, initial, x, y, classes=4):
    with strategy.scope():
        network = build_cam_classifier(build_backbone("tiny", (16, 16, 3)), classes)
        model = GuidedClassifier(network, guides=[HomogeneousNegativeCam(0.5, k=2)])
        model.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
    if initial is not None:
        network.set_weights(initial)
    start = [np.array(w) for w in network.weights]
    history = model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(len(x)), epochs=1,
                        verbose=0).history
    return start, [np.array(w) for w in network.weights], history


def test_an_uneven_batch_of_7_on_2_replicas_equals_1_replica(mirrored):
    """4 + 3 images: the loss, every tracker and the update are the
    global-batch mean, not the mean of the two replicas' means."""
    rng = np.random.default_rng(5)
    x = rng.random((7, 16, 16, 3)).astype("float32")
    y = np.array([0, 1, 2, 3, 0, 1, 3])
    start, single, h1 = _step(tf.distribute.get_strategy(), None, x, y)
    _, two, h2 = _step(mirrored, start, x, y)
    for a, b in zip(single, two):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert h1["loss"][0] == pytest.approx(h2["loss"][0], rel=1e-5)
    assert h1["hnc_loss"][0] == pytest.approx(h2["hnc_loss"][0], rel=1e-5)
    # The mean of the per-replica means would differ: that is what is avoided.
    assert not np.allclose(single[0], start[0])


def test_final_predictions_on_2_replicas_equal_1_replica(mirrored):
    """The final evaluation under ``mirrored`` needs no code of its own:
    ``predict`` of a network built in the strategy's scope splits every
    batch over the replicas (7 rows in batches of 4: 2 + 2, then 2 + 1) and
    returns the rows in order, equal to the same weights outside it."""
    from common.training.final import local_copy
    with mirrored.scope():
        network = build_cam_classifier(build_backbone("tiny", (16, 16, 3)), 4)
    x = np.random.default_rng(6).random((7, 16, 16, 3)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices(x).batch(4)
    two = network.predict(data, verbose=0)
    one = local_copy(network).predict(data, verbose=0)
    assert network.distribute_strategy.num_replicas_in_sync == 2 and two.shape == (7, 4)
    assert np.abs(one - one[::-1]).max() > 1e-4  # rows out of order would show
    np.testing.assert_allclose(two, one, rtol=1e-5, atol=1e-7)
