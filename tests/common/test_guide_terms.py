"""Each guide's term against a NumPy reference: box energy (Rao et al.), FSA
on a GAP -> Dense network, HNC on FSA's maps; and the training models saved
before guides existed still load."""

import copy
import os

import keras
import numpy as np
import pytest

import common
import fsa
from common.backbones import build_backbone
from common.box_energy import box_energy_sum_and_count
from common.classifier import build_cam_classifier
from common.receptive_field import receptive_field_geometry
from fsa.losses import fsa_loss
from fsa.masks import masks_on_grid
from fsa.network import build_cam_network

LEGACY = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "legacy")


def _bilinear(image, height, width):
    """Half-pixel-centre bilinear resize of a 2-D array (TensorFlow's)."""
    h, w = image.shape
    out = np.zeros((height, width))
    for i in range(height):
        for j in range(width):
            y = min(max((i + 0.5) * h / height - 0.5, 0), h - 1)
            x = min(max((j + 0.5) * w / width - 0.5, 0), w - 1)
            y0, x0 = int(np.floor(y)), int(np.floor(x))
            y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
            dy, dx = y - y0, x - x0
            out[i, j] = ((1 - dy) * (1 - dx) * image[y0, x0] + (1 - dy) * dx * image[y0, x1]
                         + dy * (1 - dx) * image[y1, x0] + dy * dx * image[y1, x1])
    return out


def test_box_energy_equals_a_numpy_loop():
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(4, 3, 5)).astype("float32")
    boxes = np.zeros((4, 2, 4), "float32")
    boxes[0, 0] = [0.0, 0.0, 0.5, 0.5]
    boxes[1] = [[0.2, 0.1, 0.7, 0.4], [0.5, 0.3, 1.0, 1.0]]  # overlapping: a union
    boxes[2, 1] = [0.25, 0.6, 0.9, 0.95]  # padding first, then a box
    # image 3: no box, adds nothing
    size = (12, 20)
    total, count = box_energy_sum_and_count(maps, boxes, size)
    shares = []
    for m, image_boxes in zip(maps, boxes):
        valid = [b for b in image_boxes if (b[2] - b[0]) * (b[3] - b[1]) > 0]
        if not valid:
            continue
        energy = _bilinear(np.maximum(m, 0), *size)
        inside = np.zeros(size, bool)
        for y1, x1, y2, x2 in valid:
            for i in range(size[0]):
                for j in range(size[1]):
                    cy, cx = (i + 0.5) / size[0], (j + 0.5) / size[1]
                    inside[i, j] |= y1 <= cy < y2 and x1 <= cx < x2
        shares.append(energy[inside].sum() / energy.sum())
    assert float(count) == 3
    assert float(total) == pytest.approx(sum(shares), rel=1e-5)
    # the guide: minus the weighted mean share over images with boxes
    network = build_cam_classifier(build_backbone("tiny", (16, 16, 3)), 3)
    guide = common.BoxEnergy(weight=2.0)
    model = common.GuidedClassifier(network, guides=[guide])
    x = rng.random((4, 16, 16, 3)).astype("float32")
    step = model.step({"image": x, "boxes": boxes}, np.array([0, 1, 2, 0]))
    cams = step.true_class_cams().numpy()
    term_sum, term_count = guide.terms(step)["box_energy"]
    expected = [box_energy_sum_and_count(cams[i:i + 1], boxes[i:i + 1], (16, 16))
                for i in range(3)]
    assert float(term_sum) / float(term_count) == pytest.approx(
        -2.0 * np.mean([float(s) for s, _ in expected]), rel=1e-5)


def test_fsa_on_a_gap_dense_network_fits_its_cams():
    """Issue 25, fix 1: on backbone -> GAP -> Dense, FSA's maps are the CAMs
    (features . kernel + bias on the grid), not channels of the backbone."""
    network = build_cam_classifier(build_backbone("tiny", (32, 32, 3)), 3)
    masks = np.zeros((3, 1, 32, 32), "float32")
    masks[0, 0, :16, :16] = 1.0
    masks[1, 0, 16:, :] = 1.0
    guide = fsa.ForcedSpatialAttention(masks, [1, 1, 0], weight=2.0, reg=0.1)
    model = common.GuidedClassifier(network, guides=[guide])
    x = np.random.default_rng(2).random((4, 32, 32, 3)).astype("float32")
    y = np.array([0, 1, 2, 1])
    step = model.step(x, y)
    features = step.features.numpy()
    dense = network.get_layer("classifier")
    cams = features @ dense.kernel.numpy() + dense.bias.numpy()
    geometry = receptive_field_geometry(network, network.layers[1])
    grid = masks_on_grid(masks, geometry, (32, 32))
    np.testing.assert_allclose(guide.masks, grid)
    expected = 2.0 * float(fsa_loss(cams, grid, np.array([1, 1, 0]), y, 1, 1.0, 0.1))
    assert float(guide.terms(step)["fsa_loss"]) == pytest.approx(expected, rel=1e-5)
    assert "cam_alive" not in model.statistic_names  # no ReLU in this head


def test_hnc_on_fsa_maps_uses_the_maps_whose_mean_is_the_logit():
    """Issue 25, fix 2: a conv CAM -> ReLU -> GAP -> softmax head's CAMs are
    taken after the ReLU, so their mean is the logit; FSA still fits the
    conv outputs before it."""
    network = build_cam_network(build_backbone("tiny", (32, 32, 3)), 3, dropout=0.0)
    masks = np.ones((3, 1, 32, 32), "float32")
    model = fsa.FsaModel(network, masks, [1, 1, 1],
                         guides=[common.HomogeneousNegativeCam(0.5, k=1)])
    x = np.random.default_rng(3).random((4, 32, 32, 3)).astype("float32")
    y = np.array([0, 1, 2, 0])
    step = model.step(x, y)
    conv = keras.Model(network.inputs[0], network.get_layer("cam").output)(x).numpy()
    np.testing.assert_allclose(step.maps.numpy(), conv, rtol=1e-5, atol=1e-6)
    cams = np.maximum(conv, 0)
    np.testing.assert_allclose(step.cams.numpy(), cams, rtol=1e-5, atol=1e-6)
    logits = np.log(network(x).numpy())
    means = cams.mean(axis=(1, 2))
    np.testing.assert_allclose(means - means.mean(1, keepdims=True),
                               logits - logits.mean(1, keepdims=True), atol=1e-4)
    negative = [max((j for j in range(3) if j != y[i]), key=lambda j: cams[i, ..., j].sum())
                for i in range(4)]
    hnc = np.mean([np.mean(cams[i, ..., j] ** 2) for i, j in enumerate(negative)])
    total, count = model.guide(common.HomogeneousNegativeCam).terms(step)["hnc_loss"]
    assert float(total) / float(count) == pytest.approx(0.5 * hnc, rel=1e-4)
    assert model.statistic_names == ("cam_alive",)


def test_models_saved_before_guides_still_load(run_python):
    """tests/fixtures/legacy: GuidedClassifier, FsaModel, DistractionModel and
    FamModel as main saved them before guides (make.py), in a fresh process
    that imports only ``common``: the same predictions, settings and terms."""
    run_python(f"""
import common, keras, numpy as np
folder = r"{LEGACY}"
images = np.load(folder + "/images.npy")
expected = {{"guided": (("hnc_loss",), ()), "fsa": (("fsa_loss",), ("cam_alive",)),
            "distraction": (("hnc_loss",), ("occluded",)), "fam": (("spa_loss", "div_loss"), ())}}
for name, (terms, stats) in expected.items():
    model = keras.saving.load_model(f"{{folder}}/{{name}}.keras")
    np.testing.assert_allclose(model.predict(images, verbose=0),
                               np.load(f"{{folder}}/{{name}}_predictions.npy"), rtol=1e-5, atol=1e-6)
    assert (model.term_names, model.statistic_names) == (terms, stats), name
fsa_model = keras.saving.load_model(folder + "/fsa.keras")
assert int(fsa_model.stage.numpy()) == 2 and fsa_model.lambda_fsa == 5.0
assert fsa_model.counts.tolist() == [1, 1, 0]
occlusion = keras.saving.load_model(folder + "/distraction.keras")
assert (occlusion.p, occlusion.threshold, occlusion.seed) == (0.5, 0.8, 3)
guide = keras.saving.load_model(folder + "/guided.keras").guides[0]
assert (type(guide).__name__, guide.weight, guide.k) == ("HomogeneousNegativeCam", 0.1, 2)
""")


def test_guided_classifier_with_guides_round_trips(tmp_path, run_python):
    network = build_cam_classifier(build_backbone("tiny", (16, 16, 3)), 3)
    masks = np.zeros((3, 1, 16, 16), "float32")
    masks[0, 0, :8] = 1.0
    model = common.GuidedClassifier(network, guides=[
        fsa.ForcedSpatialAttention(masks, [1, 0, 0], weight=3.0, stage=2),
        common.BoxEnergy(0.5), common.HomogeneousNegativeCam(0.2, k=1)])
    model.save(tmp_path / "guided.keras")
    run_python(f"""
import common, keras
model = keras.saving.load_model(r"{tmp_path / 'guided.keras'}")
names = [type(g).__name__ for g in model.guides]
assert names == ["ForcedSpatialAttention", "BoxEnergy", "HomogeneousNegativeCam"], names
assert model.term_names == ("fsa_loss", "box_energy", "hnc_loss"), model.term_names
assert int(model.guides[0].stage.numpy()) == 2 and model.guides[0].weight == 3.0
""")


def test_a_config_saved_with_hnc_arguments_revives_an_hnc_guide():
    """GuidedClassifier once took ``hnc_*`` arguments and saved them in its
    config: such a config revives with that HomogeneousNegativeCam guide,
    whose term is the NumPy reference's; at weight 0 it has none."""
    from tests.common.test_losses import _reference, network_cams
    network = build_cam_classifier(build_backbone("tiny", (16, 16, 3)), 3)
    config = {**common.GuidedClassifier(network).get_config(), "hnc_weight": 0.3,
              "hnc_k": 1, "hnc_variant": "mse", "hnc_temperature": 1.0}
    del config["guides"]  # configs saved then had no guides entry
    model = common.GuidedClassifier.from_config(copy.deepcopy(config))  # Keras edits it
    model.network.set_weights(network.get_weights())
    (guide,) = model.guides
    assert guide.get_config() == common.HomogeneousNegativeCam(0.3, k=1).get_config()
    x = np.random.default_rng(5).random((4, 16, 16, 3)).astype("float32")
    y = np.array([0, 1, 2, 0])
    total, count = guide.terms(model.step(x, y, training=True))["hnc_loss"]
    expected = 0.3 * _reference(network_cams(network, x), y, 1, "mse")
    assert float(total) / float(count) == pytest.approx(expected, rel=1e-4)
    config["hnc_weight"] = 0.0
    assert common.GuidedClassifier.from_config(config).guides == []


def test_method_models_keep_other_guides_and_refuse_what_they_do_not_take(tmp_path,
                                                                          run_python):
    """A method model given ``guides`` trains and saves them after its own
    (they were silently dropped before); an argument it does not take, such
    as the removed ``hnc_weight``, is refused in one line."""
    from distraction.model import DistractionModel
    network = build_cam_classifier(build_backbone("tiny", (16, 16, 3)), 3)
    model = DistractionModel(network, p=0.5, guides=[common.HomogeneousNegativeCam(0.2, k=1)])
    assert model.term_names == ("hnc_loss",) and model.statistic_names == ("occluded",)
    model.save(tmp_path / "occlusion.keras")
    run_python(f"""
import common, keras
model = keras.saving.load_model(r"{tmp_path / 'occlusion.keras'}")
names = [type(g).__name__ for g in model.guides]
assert names == ["GradCamOcclusion", "HomogeneousNegativeCam"], names
assert (model.guides[1].weight, model.guides[1].k, model.p) == (0.2, 1, 0.5)
""")
    with pytest.raises((TypeError, ValueError), match="hnc_weight") as error:
        DistractionModel(network, hnc_weight=0.5)
    assert "\n" not in str(error.value)
