"""BoxEnergy on an ``attend`` mask, and its gradient where ReLU's is zero:
the value is the paper's share of ReLU energy (a NumPy loop), the gradient
that of the soft share (central differences in NumPy), and it is non-zero
for a map that is <= 0 everywhere inside the region (issue 38)."""

import numpy as np
import pytest
import tensorflow as tf

import common
from common.backbones import build_backbone
from common.box_energy import SOFTNESS, region_energy_sum_and_count
from common.classifier import build_cam_classifier
from tests.common.numeric import central_differences
from tests.common.test_guide_terms import _bilinear


def _shares(maps, regions, positive):
    out = []
    for m, region in zip(maps, regions):
        energy = _bilinear(positive(m), *region.shape)
        out.append((energy * region).sum() / energy.sum() if energy.sum() else 0.0)
    return np.array(out)


def _soft(m):
    t = SOFTNESS * np.abs(m).max() + 1e-12
    return t * np.logaddexp(0.0, m / t)


def _regions(rng):
    regions = np.zeros((3, 8, 10), "float32")
    regions[0, :4, :5] = 1.0
    regions[1, 2:7, 3:9] = rng.random((5, 6))  # soft weights in [0, 1]
    return regions  # image 2: empty, adds nothing


def test_the_value_is_the_papers_share_and_the_gradient_the_soft_shares():
    rng = np.random.default_rng(1)
    maps = rng.normal(size=(3, 4, 5))
    regions = _regions(rng)
    variable = tf.Variable(maps, dtype=tf.float32)
    with tf.GradientTape() as tape:
        total, count = region_energy_sum_and_count(variable, regions)
    assert float(count) == 2
    relu = _shares(maps, regions, lambda m: np.maximum(m, 0))
    assert float(total) == pytest.approx(relu[:2].sum(), rel=1e-5)
    gradient = tape.gradient(total, variable).numpy()

    def soft_total(point):  # the temperature is held fixed, as the guide holds it
        t = SOFTNESS * np.abs(maps).max(axis=(1, 2)) + 1e-12
        return sum((lambda e: (e * r).sum() / e.sum())(
            _bilinear(ti * np.logaddexp(0.0, m / ti), *r.shape))
            for m, r, ti in zip(point[:2], regions[:2], t[:2]))

    np.testing.assert_allclose(gradient, central_differences(soft_total, maps, 1e-5),
                               atol=2e-4)
    assert np.all(gradient[2] == 0)  # no region: no gradient


def test_a_map_below_zero_all_over_the_box_still_gets_a_gradient():
    """Rao et al.'s ReLU share: once the map is <= 0 inside the region its
    gradient is exactly zero (the issue's finding); the soft part keeps one
    that raises the map inside and lowers it outside."""
    maps = np.full((1, 4, 4), -1.0, "float32")
    maps[0, 2:, 2:] = 2.0  # positive only outside the region
    regions = np.zeros((1, 4, 4), "float32")
    regions[0, :2, :2] = 1.0
    variable = tf.Variable(maps)
    with tf.GradientTape(persistent=True) as tape:
        total, _ = region_energy_sum_and_count(variable, regions)
        positive = tf.nn.relu(variable)
        relu_share = tf.reduce_sum(positive * regions) / tf.reduce_sum(positive)
    assert float(total) == 0.0
    assert np.all(tape.gradient(relu_share, variable).numpy() == 0)  # the old gradient
    gradient = tape.gradient(total, variable).numpy()[0]
    assert gradient[:2, :2].min() > 0  # raise the map inside
    assert gradient[2:, 2:].max() < 0  # lower it outside


def test_the_guide_on_attend_masks_through_a_step():
    rng = np.random.default_rng(2)
    network = build_cam_classifier(build_backbone("tiny", (16, 16, 3)), 3)
    guide = common.BoxEnergy(weight=2.0, region="attend")
    model = common.GuidedClassifier(network, guides=[guide])
    x = rng.random((3, 16, 16, 3)).astype("float32")
    attend = np.zeros((3, 16, 16), "float32")
    attend[0, 4:12, 4:12] = 1.0
    attend[1, :8] = 1.0
    step = model.step({"image": x, "attend": attend}, np.array([0, 1, 2]))
    cams = step.true_class_cams().numpy()
    term_sum, term_count = guide.terms(step)["box_energy"]
    expected = _shares(cams, attend, lambda m: np.maximum(m, 0))[:2]
    assert float(term_count) == 2
    assert float(term_sum) == pytest.approx(-2.0 * expected.sum(), rel=1e-4)
    assert common.BoxEnergy.from_config(guide.get_config()).region == "attend"


@pytest.mark.parametrize("kwargs, message", [
    ({"weight": -1.0}, "weight must be >= 0"),
    ({"region": "ignore"}, "region must be one of"),
])
def test_bad_arguments_are_one_line(kwargs, message):
    with pytest.raises(ValueError, match=message):
        common.BoxEnergy(**kwargs)
