"""The distraction train step occludes exactly what batched Grad-CAM selects."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from common.backbones import build_backbone
from common.cam import GradCAM
from common.guidance import HomogeneousNegativeCam
from distraction.model import DistractionModel, build_distraction_model
from common.training.entry import main
from distraction.train import COMMAND
from tests.common.test_losses import _reference as hnc_reference, network_cams

SIZE = 24


def _model(p, run_eagerly=False, weights=None, strategy=None):
    with (strategy or tf.distribute.get_strategy()).scope():
        model = build_distraction_model(build_backbone("tiny", (SIZE, SIZE, 3)), 3, p=p,
                                        threshold=0.6, mode="zero", seed=5)
        model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy",
                      run_eagerly=run_eagerly)
    if weights is not None:
        model.network.set_weights(weights)
    return model


def _batch():
    rng = np.random.default_rng(1)
    return (rng.uniform(0, 1, (8, SIZE, SIZE, 3)).astype("float32"),
            np.array([0, 1, 2, 0, 1, 2, 0, 1]))


def _step(model, x, y):
    model.fit(tf.data.Dataset.from_tensors((x, y)), epochs=1, verbose=0)
    return [np.array(w) for w in model.network.weights]


@pytest.mark.parametrize("run_eagerly", [True, False])
def test_p1_trains_on_the_numpy_occluded_batch(run_eagerly):
    x, y = _batch()
    model = _model(1.0, run_eagerly)
    start = [np.array(w) for w in model.network.weights]
    heatmaps = GradCAM(model.network)(x, class_index=y).numpy()
    occluded = np.where(heatmaps[..., None] > 0.6, 0.0, x).astype("float32")
    assert 0 < (heatmaps > 0.6).mean() < 0.5
    np.testing.assert_array_equal(model.distract(x, y).numpy(), occluded)
    after = _step(model, x, y)
    reference = _step(_model(0.0, run_eagerly, start), occluded, y)
    for a, b in zip(after, reference):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    plain = _step(_model(0.0, run_eagerly, start), x, y)
    assert not all(np.allclose(a, b) for a, b in zip(after, plain))


@pytest.mark.parametrize("run_eagerly", [True, False])
def test_p0_trains_on_the_clean_batch(run_eagerly):
    x, y = _batch()
    model = _model(0.0, run_eagerly)
    start = [np.array(w) for w in model.network.weights]
    history = model.fit(tf.data.Dataset.from_tensors((x, y)), epochs=1, verbose=0).history
    assert history["occluded"] == [0.0]
    reference = keras.models.clone_model(model.network)
    reference.set_weights(start)
    reference.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    reference.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(model.network.weights, reference.weights):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-5, atol=1e-6)


def test_coin_is_seeded_per_step_with_probability_p():
    x, y = _batch()
    model = _model(0.5)
    data = tf.data.Dataset.from_tensors((x, y)).repeat(40)
    fraction = model.fit(data, epochs=1, verbose=0).history["occluded"][0]
    draws = [float(tf.random.stateless_uniform((), seed=[5, s])) < 0.5 for s in range(40)]
    assert fraction == pytest.approx(np.mean(draws)) and 0.2 < fraction < 0.8


def test_mirrored_occluding_step_equals_default(mirrored):
    x, y = _batch()
    single = _model(1.0)
    start = [np.array(w) for w in single.network.weights]
    after = _step(single, x, y)
    distributed = _step(_model(1.0, weights=start, strategy=mirrored), x, y)
    for a, b in zip(after, distributed):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_config_round_trip_and_bad_arguments():
    model = _model(0.3)
    clone = DistractionModel.from_config(model.get_config())
    assert (clone.p, clone.threshold, clone.mode, clone.seed) == (0.3, 0.6, "zero", 5)
    with pytest.raises(ValueError, match=r"p \(the occlusion probability\) must be in"):
        DistractionModel(model.network, p=1.5)


def test_trainer_writes_erased_metrics_and_reloadable_model(
        tmp_path, reloaded_predictions_match, small_demo, demo_settings):
    run = tmp_path / "run"
    main(COMMAND, ["--data", small_demo("digits", 12), "--config", demo_settings(COMMAND),
                   "--output", str(run), "--epochs", "1", "--image-size", "16",
                   "--batch-size", "64", "--verbose", "0", "--p", "1", "--oversample", "3"])
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"accuracy", "f1_weighted", "true_positive_rate"} <= set(metrics["erased"])
    assert metrics["occlusion"] == {"p": 1.0, "threshold": 0.85, "mode": "zero"}
    history = (run / "history.csv").read_text()
    assert "occluded" in history.splitlines()[0]
    reloaded_predictions_match(run, image_size=16)


def test_hnc_term_adds_to_occlusion_training():
    """The HNC term is that of the occluded batch's CAMs (NumPy, starting weights)."""
    x, y = _batch()
    model = build_distraction_model(build_backbone("tiny", (SIZE, SIZE, 3)), 3, p=1.0,
                                    guides=[HomogeneousNegativeCam(0.5, k=1)])
    model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    heatmaps = GradCAM(model.network)(x, class_index=y).numpy()
    occluded = np.where(heatmaps[..., None] > 0.85, 0.0, x).astype("float32")
    expected = 0.5 * hnc_reference(network_cams(model.network, occluded), y, 1, "mse")
    history = model.fit(tf.data.Dataset.from_tensors((x, y)), epochs=1, verbose=0).history
    assert history["occluded"] == [1.0]
    assert history["hnc_loss"][0] == pytest.approx(expected, rel=1e-4)
