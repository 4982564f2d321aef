"""Mask sets: Gaussians, files, checks, grid resampling."""

import json

import numpy as np
import pytest

from fsa.masks import MaskError, gaussian_mask, load_masks, masks_to_grid


def test_gaussian_mask_is_max_of_unit_peaks():
    mask = gaussian_mask((20, 30), [(5, 6), (14, 25)], sigma=3.0)
    assert mask.shape == (20, 30) and mask.dtype == np.float32
    assert mask[5, 6] == pytest.approx(1.0) and mask[14, 25] == pytest.approx(1.0)
    expected = max(np.exp(-((10 - 5) ** 2 + (12 - 6) ** 2) / 18),
                   np.exp(-((10 - 14) ** 2 + (12 - 25) ** 2) / 18))
    assert mask[10, 12] == pytest.approx(expected, rel=1e-5)
    assert gaussian_mask((4, 4), [], 1.0).max() == 0.0


def test_json_and_npz_give_the_same_masks(tmp_path):
    spec = {"image_size": [16, 16], "classes": {
        "brake": {"centers": [[4, 4], [12, 4]], "sigma": 2.0},
        "gas": {"centers": [[8, 12]], "sigma": 3.0}, "away": {"centers": []}}}
    (tmp_path / "m.json").write_text(json.dumps(spec))
    classes = ["away", "brake", "gas"]
    masks, counts = load_masks(str(tmp_path / "m.json"), classes)
    assert masks.shape == (3, 2, 16, 16) and counts.tolist() == [0, 2, 1]
    np.testing.assert_allclose(masks[1, 1], gaussian_mask((16, 16), [(12, 4)], 2.0))
    assert masks[0].max() == 0 and masks[2, 1].max() == 0
    np.savez(tmp_path / "m.npz", masks=masks, counts=counts, classes=np.array(classes))
    again, again_counts = load_masks(str(tmp_path / "m.npz"), classes)
    np.testing.assert_array_equal(again, masks)
    np.testing.assert_array_equal(again_counts, counts)


def test_bad_mask_files_say_what_is_wrong(tmp_path):
    masks = np.zeros((2, 1, 8, 8), "float32")
    np.savez(tmp_path / "two.npz", masks=masks, counts=[1, 0])
    with pytest.raises(MaskError, match="masks for 2 classes.*3 classes"):
        load_masks(str(tmp_path / "two.npz"), ["a", "b", "c"])
    np.savez(tmp_path / "flat.npz", masks=np.zeros((2, 8, 8)), counts=[1, 0])
    with pytest.raises(MaskError, match=r"shape \(2, 8, 8\)"):
        load_masks(str(tmp_path / "flat.npz"), ["a", "b"])
    np.savez(tmp_path / "names.npz", masks=masks, counts=[1, 0], classes=["x", "y"])
    with pytest.raises(MaskError, match=r"for classes \['x', 'y'\]"):
        load_masks(str(tmp_path / "names.npz"), ["a", "b"])
    np.savez(tmp_path / "count.npz", masks=masks, counts=[2, 0])
    with pytest.raises(MaskError, match="counts"):
        load_masks(str(tmp_path / "count.npz"), ["a", "b"])
    (tmp_path / "m.json").write_text(json.dumps({"image_size": [8, 8], "classes": {"a": {}}}))
    with pytest.raises(MaskError, match=r"missing \['b'\]"):
        load_masks(str(tmp_path / "m.json"), ["a", "b"])
    with pytest.raises(MaskError, match="does not exist"):
        load_masks(str(tmp_path / "nope.npz"), ["a"])


def test_masks_to_grid_averages_areas():
    masks = np.zeros((1, 1, 26, 26), "float32")
    masks[0, 0, :2, :2] = 1.0  # exactly the top-left 2x2 block
    grid = masks_to_grid(masks, (13, 13))
    assert grid.shape == (1, 1, 13, 13)
    assert grid[0, 0, 0, 0] == pytest.approx(1.0) and grid[0, 0, 1:, :].max() == 0
    masks = np.random.default_rng(0).uniform(size=(2, 3, 26, 26)).astype("float32")
    expected = masks.reshape(2, 3, 13, 2, 13, 2).mean(axis=(3, 5))
    np.testing.assert_allclose(masks_to_grid(masks, (13, 13)), expected, rtol=1e-5)
