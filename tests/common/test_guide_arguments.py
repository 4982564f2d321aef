"""Mistakes a guide user made in Python (issue 38, item 5), each refused in
one line at the call that made it, before anything trains: a two-output
network, multi-label targets, negative weights, HNC k=0, FSA masks in the
wrong units or layout, counts beyond the masks, FSA without masks, pixel
boxes and 0-255 masks given to fit()."""

import keras
import numpy as np
import pytest

import common
import fsa
from common.backbones import build_backbone
from common.classifier import build_cam_classifier

S, C = 16, 3


def _network(multi_label=False):
    return build_cam_classifier(build_backbone("tiny", (S, S, 3)), C, multi_label=multi_label)


def _one_line(error):
    message = str(error.value)
    assert "\n" not in message, message
    return message


def test_a_two_output_network_is_refused_at_construction():
    inputs = keras.Input((S, S, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(build_backbone("tiny", (S, S, 3))(inputs))
    network = keras.Model(inputs, [keras.layers.Dense(C, activation="softmax")(pooled),
                                   keras.layers.Dense(1)(pooled)], name="two_heads")
    with pytest.raises(ValueError) as error:
        common.GuidedClassifier(network, guides=[common.BoxEnergy()])
    assert "network 'two_heads' has 2 outputs" in _one_line(error)


def test_multi_label_targets_are_refused_by_class_map_guides_and_hnc_still_trains():
    x = np.random.default_rng(0).random((4, S, S, 3)).astype("float32")
    y = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 0], [0, 0, 1]], "float32")
    model = common.GuidedClassifier(_network(True), guides=[common.GradCamPenalty()])
    model.compile("sgd", "binary_crossentropy")
    with pytest.raises(ValueError, match="sigmoid \\(multi-label\\) network has several"):
        model.fit({"image": x, "ignore": np.zeros((4, S, S), "float32")}, y, verbose=0)
    # HNC reads every positive class of a multi-hot label: allowed
    model = common.GuidedClassifier(_network(True), guides=[
        common.HomogeneousNegativeCam(0.1, k=1)])
    model.compile("sgd", "binary_crossentropy")
    assert np.isfinite(model.fit(x, y, verbose=0).history["hnc_loss"][0])


@pytest.mark.parametrize("build, message", [
    (lambda: common.HomogeneousNegativeCam(k=0), "k >= 1"),
    (lambda: common.HomogeneousNegativeCam(weight=-0.1), "weight >= 0"),
    (lambda: common.BoxEnergy(-1.0), "weight must be >= 0"),
    (lambda: common.InputGradientPenalty(-1.0), "weight must be >= 0"),
    (lambda: common.Hint(-1.0), "must be >= 0"),
    (lambda: fsa.ForcedSpatialAttention(np.ones((C, 1, S, S)), [1] * C, weight=-1.0),
     "weight and reg must be >= 0"),
    (lambda: fsa.ForcedSpatialAttention(np.full((C, 1, S, S), 255.0), [1] * C),
     "masks in 0-255\\? divide by 255"),
    (lambda: fsa.ForcedSpatialAttention(np.ones((C, 32, 32, 2)), [1] * C),
     "looks laid out \\(C, H, W, M\\)"),
    (lambda: fsa.ForcedSpatialAttention(np.ones((C, 2, S, S)), [1, 3, 0]),
     "expected 0 to 2 masks per class"),
    (lambda: fsa.ForcedSpatialAttention(), "give masks .* or attend=True"),
    (lambda: common.HomogeneousNegativeCam(variant="l1"),
     "^HomogeneousNegativeCam: variant must be one of"),  # the argument, not a flag
    (lambda: fsa.ForcedSpatialAttention(attend=True, fit_loss="l1"),
     "^ForcedSpatialAttention: fit_loss must be one of"),
], ids=["hnc-k0", "hnc-negative", "box-negative", "rrr-negative", "hint-negative",
        "fsa-negative", "fsa-0-255", "fsa-chwm", "fsa-counts", "fsa-no-masks", "hnc-variant",
        "fsa-fit-loss"])
def test_bad_guide_arguments_are_one_line(build, message):
    with pytest.raises(ValueError, match=message) as error:
        build()
    _one_line(error)


@pytest.mark.parametrize("extra, message", [
    ({"boxes": np.array([[[2.0, 3.0, 12.0, 14.0]]] * 4, "float32")}, "pixel boxes\\?"),
    ({"ignore": np.full((4, S, S), 255.0, "float32")}, "ignore: .*masks in 0-255\\?"),
    ({"attend": np.ones((4, 8, 8), "float32")}, "attend: expected masks \\(N, H, W\\)"),
], ids=["pixel-boxes", "mask-0-255", "mask-size"])
def test_annotations_in_the_wrong_units_are_refused_by_fit(extra, message):
    model = common.GuidedClassifier(_network(), guides=[common.BoxEnergy()])
    model.compile("sgd", "sparse_categorical_crossentropy")
    x = np.zeros((4, S, S, 3), "float32")
    with pytest.raises(ValueError, match=message) as error:
        model.fit({"image": x, **extra}, np.arange(4) % C, verbose=0)
    _one_line(error)
