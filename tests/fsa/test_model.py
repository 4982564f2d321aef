"""SqueezeNet v1.1 and the FSA training model."""

import keras
import numpy as np
import pytest

from common.guidance import HomogeneousNegativeCam
from common.receptive_field import receptive_field_geometry
from fsa.losses import fsa_loss
from fsa.masks import masks_on_grid
from fsa.model import FsaModel, StageSwitch, build_fsa_model
from fsa.network import build_squeezenet


def test_squeezenet_v1_1_shapes_and_parameter_count():
    model = build_squeezenet(1000)
    # torchvision's squeezenet1_1 has 1,235,496 parameters for 1000 classes.
    assert model.count_params() == 1_235_496
    assert model.get_layer("cam").output.shape[1:] == (13, 13, 1000)


def _masks(size=64, classes=3):
    masks = np.zeros((classes, 2, size, size), "float32")
    masks[0, 0, :size // 2, :size // 2] = 1.0
    masks[1, :, size // 2:, :] = 0.5
    return masks


def _fsa(size=64, classes=3, **kwargs):
    return build_fsa_model(classes, _masks(size, classes), [1, 2, 0],
                           input_shape=(size, size, 3), **kwargs)


def test_train_step_adds_the_fsa_loss_on_the_cam_layer():
    keras.utils.set_random_seed(1)
    model = _fsa()
    model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
    x = np.random.rand(4, 64, 64, 3).astype("float32")
    y = np.array([0, 1, 2, 1])
    logs = model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    cams = keras.Model(model.network.input, model.network.get_layer("cam").output)(x)
    geometry = receptive_field_geometry(model.network, "cam")
    grid = masks_on_grid(_masks(), geometry, (64, 64))
    np.testing.assert_array_equal(model.masks, grid)
    expected = fsa_loss(cams, grid, [1, 2, 0], y, 1, fit="bce")
    assert logs["fsa_loss"] == pytest.approx(float(expected), rel=1e-5)
    ce = keras.losses.sparse_categorical_crossentropy(y, model.network(x)).numpy().mean()
    assert logs["loss"] == pytest.approx(ce + float(expected), rel=1e-5)
    true_cams = cams.numpy()[np.arange(4), :, :, y]
    assert logs["cam_alive"] == pytest.approx((true_cams > 0).mean())


def test_stage_switch_changes_the_stage_between_epochs():
    model = _fsa()
    model.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    seen = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append(int(model.stage.numpy())))
    x = np.random.rand(4, 64, 64, 3).astype("float32")
    model.fit(x, np.array([0, 1, 2, 0]), epochs=4, verbose=0,
              callbacks=[StageSwitch(2), record])
    assert seen == [1, 1, 2, 2]


def test_deployable_network_round_trips_and_has_no_fsa_head(tmp_path, run_python):
    model = _fsa(lambda_fsa=10.0, fit_loss="mse", mask_peak="raw")
    plain = build_squeezenet(3, (64, 64, 3))
    assert model.network.count_params() == plain.count_params()
    clone = FsaModel.from_config(model.get_config())
    assert clone.counts.tolist() == [1, 2, 0] and clone.lambda_fsa == 10.0
    assert (clone.fit_loss, clone.mask_peak) == ("mse", "raw")
    np.testing.assert_array_equal(clone.masks, model.masks)  # stored on the grid
    x = np.random.rand(2, 64, 64, 3).astype("float32")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", model.network.predict(x, verbose=0))
    model.network.save(tmp_path / "m.keras")
    run_python(f"""
import numpy as np
from common.saving import load_model
m = load_model(r"{tmp_path / 'm.keras'}")
assert len(m.outputs) == 1
np.testing.assert_array_equal(m.predict(np.load(r"{tmp_path / 'x.npy'}"), verbose=0),
                              np.load(r"{tmp_path / 'y.npy'}"))
""")


def test_hnc_term_adds_to_the_fsa_loss():
    model = _fsa(guides=[HomogeneousNegativeCam(0.5, k=1)])
    model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
    x = np.random.rand(4, 64, 64, 3).astype("float32")
    y = np.array([0, 1, 2, 1])
    logs = model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    ce = keras.losses.sparse_categorical_crossentropy(y, model.network(x)).numpy().mean()
    assert logs["hnc_loss"] > 0 and logs["fsa_loss"] > 0
    assert logs["loss"] == pytest.approx(ce + logs["fsa_loss"] + logs["hnc_loss"], rel=1e-4)


def test_dead_cam_monitor_warns_on_an_epoch_ending_at_zero(capsys):
    from fsa.monitor import DeadCamMonitor
    monitor = DeadCamMonitor()
    monitor.on_epoch_end(0, {"cam_alive": 0.2})
    assert not monitor.ended_dead and capsys.readouterr().err == ""
    monitor.on_epoch_end(1, {"cam_alive": 0.0})
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "epoch 2 ended with cam_alive 0" in lines[0]
    assert "--fsa-fit-loss bce" in lines[0] and monitor.ended_dead
    monitor.on_epoch_end(2, {"cam_alive": 0.01})
    assert not monitor.ended_dead


def test_one_guide_given_to_two_networks_keeps_no_state_between_them():
    """A guide holds no model state between models (#39): the first model
    takes the guide itself, a second one a fresh copy with the masks as
    given mapped onto its own CAM grid and its own stage variable, and a
    StageSwitch of the first model's guide refuses the second model."""
    from common.classifier import GuidedClassifier
    from fsa.guide import ForcedSpatialAttention
    from fsa.monitor import StageSwitch
    masks = _masks(64)
    guide = ForcedSpatialAttention(masks, [1, 2, 0], stage1_epochs=1)
    models = []
    for size in (64, 96):
        network = build_squeezenet(3, (size, size, 3))
        models.append(GuidedClassifier(network, guides=[guide]))
        layer = network.get_layer("cam")
        expected = masks_on_grid(masks, receptive_field_geometry(network, layer), (size, size))
        own = models[-1].guides[0]
        assert own.masks.shape[2:] == layer.output.shape[1:3]
        np.testing.assert_array_equal(own.masks, expected)
        np.testing.assert_array_equal(own.given_masks, masks)
    first, second = (model.guides[0] for model in models)
    assert first is guide and second is not guide
    assert first.stage is not second.stage and first.masks.shape != second.masks.shape
    switch = StageSwitch(1, guide=first)
    switch.set_model(models[1])
    with pytest.raises(ValueError, match="not one of this model's guides"):
        switch.on_epoch_begin(1)
    for model in models:  # each model's own callbacks switch its own stage
        for callback in model.guide_callbacks():
            callback.set_model(model)
            callback.on_epoch_begin(1)
    assert int(first.stage.numpy()) == 2 and int(second.stage.numpy()) == 2
