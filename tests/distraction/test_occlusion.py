"""occlude, pixel by pixel, against NumPy."""

import numpy as np
import pytest

from distraction.occlusion import occlude


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    images = rng.uniform(0.05, 0.95, (3, 6, 7, 3)).astype("float32")
    heatmaps = rng.uniform(0, 1, (3, 6, 7)).astype("float32")
    heatmaps[0, 0, 0] = 0.85  # exactly the threshold: not occluded (strictly greater)
    return images, heatmaps


@pytest.mark.parametrize("mode, value", [("zero", 0.0), ("one", 1.0)])
def test_constant_modes_match_numpy(batch, mode, value):
    images, heatmaps = batch
    out = occlude(images, heatmaps, 0.85, mode).numpy()
    expected = images.copy()
    expected[heatmaps > 0.85] = value
    np.testing.assert_array_equal(out, expected)
    assert out[0, 0, 0].tolist() == images[0, 0, 0].tolist()


def test_random_mode_changes_exactly_the_selected_pixels(batch):
    images, heatmaps = batch
    out = occlude(images, heatmaps, 0.5, "random").numpy()
    selected = heatmaps > 0.5
    np.testing.assert_array_equal(out[~selected], images[~selected])
    fill = out[selected]
    assert np.all((fill >= 0) & (fill < 1))
    assert np.all(fill != images[selected])  # fresh values on every channel
    assert fill.std() > 0.2  # uniform noise, not a constant


def test_bad_mode_is_rejected(batch):
    with pytest.raises(ValueError, match="occlusion mode"):
        occlude(*batch, mode="blur")


def test_the_command_offers_the_library_modes():
    from common.training.guide_groups import OCCLUSION
    from distraction import occlusion
    assert OCCLUSION.flags["occlusion_mode"].choices == occlusion.MODES
