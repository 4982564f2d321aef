"""Guides on any Keras classifier: all four guides in one ``fit()`` on a
keras.applications model with a logits head, a Sequential model, a
trailing-Softmax model and the toolkit's own builders; each guide's term in
the combined step equals that guide's term computed alone on the same batch
and weights (also under MirroredStrategy and mixed precision)."""


import keras
import numpy as np
import pytest

import common
import distraction
import fsa
from common.backbones import build_backbone
from common.classifier import build_cam_classifier
from common.networks import with_input_range
from common.training.model_setup import compiled_loss
from fsa.network import build_cam_network
from tests.common import user_networks

S, C, B = 32, 3, 6
NETWORKS = {  # ImageNet models have stride 32: 64 px gives a 2 x 2 CAM grid
    "applications_logits": lambda: with_input_range(user_networks.mobilenet_logits(
        (2 * S, 2 * S, 3), C)),
    "sequential": lambda: user_networks.sequential((S, S, 3), C),
    "trailing_softmax": lambda: user_networks.trailing_softmax((S, S, 3), C),
    "cam_classifier": lambda: build_cam_classifier(build_backbone("tiny", (S, S, 3)), C),
    "fsa_conv_head": lambda: build_cam_network(build_backbone("tiny", (S, S, 3)), C, dropout=0.0),
}


def _batch(batch=B, size=S):
    rng = np.random.default_rng(1)
    x = rng.random((batch, size, size, 3)).astype("float32")
    y = np.arange(batch) % C
    boxes = np.zeros((batch, 2, 4), "float32")
    boxes[:, 0] = [0.1, 0.2, 0.6, 0.7]
    boxes[1, 1] = [0.5, 0.5, 1.0, 1.0]
    boxes[-1] = 0.0  # an image without boxes adds nothing to box energy
    return x, y, boxes


def _masks():
    """Drawn on 16 x 16 images; mapped onto any network's grid."""
    masks = np.zeros((C, 2, 16, 16), "float32")
    masks[0, 0, :8, :8] = 1.0
    masks[1, 0, 8:, 8:] = 1.0
    masks[1, 1, :8, 8:] = 1.0
    return masks, np.array([1, 2, 0])


def _term_guides():
    masks, counts = _masks()
    return [fsa.ForcedSpatialAttention(masks, counts, weight=1.0, reg=0.05),
            common.HomogeneousNegativeCam(weight=0.07, k=2),
            common.BoxEnergy(weight=1.0)]


def _alone(network, guide, images, y, boxes):
    """The guide's (only) term, on a model that holds just it, as a mean."""
    model = common.GuidedClassifier(network, guides=[guide])
    step = model.step({"image": images, "boxes": boxes}, y, training=True)
    (name, value), = guide.terms(step).items()
    if isinstance(value, tuple):
        return name, float(value[0]) / float(value[1])
    return name, float(value)


def _combined_fit(network, x, y, boxes, batch=B):
    """One fit() step (learning rate 0) with all four guides, every batch
    occluded; returns the logs and the occluded images (Grad-CAM runs in
    inference mode before the step, so they can be computed beforehand)."""
    occlusion = distraction.GradCamOcclusion(p=1.0, threshold=0.5)
    model = common.GuidedClassifier(network, guides=[occlusion, *_term_guides()])
    occluded = occlusion.distract(model, {"image": x, "boxes": boxes}, y)["image"].numpy()
    model.compile(keras.optimizers.SGD(0.0), compiled_loss(network, False))
    logs = model.fit({"image": x, "boxes": boxes}, y, batch_size=batch, epochs=1, verbose=0,
                     shuffle=False).history
    return {k: v[0] for k, v in logs.items()}, occluded, model


@pytest.mark.parametrize("name", list(NETWORKS))
def test_four_guides_in_one_fit_equal_each_guide_alone(name):
    network = NETWORKS[name]()
    x, y, boxes = _batch(size=network.inputs[0].shape[1])
    logs, occluded, model = _combined_fit(network, x, y, boxes)
    assert logs["occluded"] == 1.0
    assert not np.allclose(occluded, x)  # the terms below are on the occluded images
    for guide in _term_guides():
        term, alone = _alone(network, guide, occluded, y, boxes)
        assert logs[term] == pytest.approx(alone, rel=2e-4, abs=1e-6), term
    scores = network(occluded, training=True)
    cross_entropy = float(np.mean(compiled_loss(network, False)(y, scores)))
    terms = sum(logs[g.term_names()[0]] for g in _term_guides())
    assert logs["loss"] == pytest.approx(cross_entropy + terms, rel=2e-4)
    # the deployable model is the user's network, with no guide inside
    assert model.network is network and len(network.outputs) == 1


def test_guides_under_mirrored_strategy_with_an_uneven_batch(mirrored):
    """5 images on 2 replicas (3 + 2): the terms are global-batch means."""
    x, y, boxes = _batch(5)
    for build in (NETWORKS["sequential"], NETWORKS["cam_classifier"]):
        with mirrored.scope():
            network = build()
            logs, occluded, _ = _combined_fit(network, x, y, boxes, batch=5)
        for guide in _term_guides():
            term, alone = _alone(network, guide, occluded, y, boxes)
            assert logs[term] == pytest.approx(alone, rel=1e-4, abs=1e-6), (network.name, term)


def test_guides_with_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        network = NETWORKS["cam_classifier"]()
        x, y, boxes = _batch()
        logs, occluded, model = _combined_fit(network, x, y, boxes)
        assert model.optimizer.__class__.__name__ == "LossScaleOptimizer"
        for guide in _term_guides():
            term, alone = _alone(network, guide, occluded, y, boxes)
            assert np.isfinite(logs[term])
            assert logs[term] == pytest.approx(alone, rel=1e-2, abs=1e-4), term
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_a_guide_that_needs_cams_is_refused_on_a_head_without_them():
    inputs = keras.Input((S, S, 3))
    x = keras.layers.Conv2D(4, 3)(inputs)
    x = keras.layers.Flatten()(x)
    network = keras.Model(inputs, keras.layers.Dense(C, activation="softmax")(x))
    with pytest.raises(ValueError, match="BoxEnergy needs class activation maps.*GAP"):
        common.GuidedClassifier(network, guides=[common.BoxEnergy()])
    # Grad-CAM occlusion needs no CAM head: any differentiable classifier
    model = common.GuidedClassifier(network, guides=[distraction.GradCamOcclusion(p=1.0)])
    x, y, _ = _batch()
    assert model.guides[0].distract(model, x, y).shape == x.shape


def test_subclassed_models_are_refused_in_one_line():
    class Mine(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(TypeError, match="neither functional nor Sequential"):
        common.GuidedClassifier(Mine())


@pytest.mark.parametrize("application, input_range", [
    ("ResNet50", "0-1"), ("EfficientNetV2B0", "0-255")])
def test_cams_of_nested_applications_decompose_their_logits(application, input_range):
    """keras.applications models (weights=None) nested in a logits head:
    the step's CAMs have the logits as spatial means, and a float32 HNC
    term is computed on them."""
    kwargs = {"include_preprocessing": True} if input_range == "0-255" else {}
    backbone = getattr(keras.applications, application)(
        input_shape=(64, 64, 3), include_top=False, weights=None, **kwargs)
    inputs = keras.Input((64, 64, 3))
    logits = keras.layers.Dense(C)(keras.layers.GlobalAveragePooling2D()(backbone(inputs)))
    network = with_input_range(keras.Model(inputs, logits), input_range)
    model = common.GuidedClassifier(network,
                                    guides=[common.HomogeneousNegativeCam(0.1, k=1)])
    assert model.cam_source.feature_layer is backbone
    x, y, _ = _batch(4, size=64)
    step = model.step(x, y)
    np.testing.assert_allclose(step.cams.numpy().mean(axis=(1, 2)), network(x).numpy(),
                               rtol=1e-4, atol=1e-4)
    total, count = model.guides[0].terms(step)["hnc_loss"]
    assert np.isfinite(float(total)) and float(count) == 4
