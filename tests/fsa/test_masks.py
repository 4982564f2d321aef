"""Mask sets: Gaussians, files, checks, grid resampling."""

import json

import numpy as np
import pytest

from common.backbones import build_backbone
from common.receptive_field import receptive_field_geometry
from fsa.masks import MaskError, gaussian_mask, load_masks, masks_on_grid, small_masks
from fsa.network import build_squeezenet


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
    from fsa.guide import ForcedSpatialAttention  # what attention-train --masks builds
    guide = ForcedSpatialAttention.from_mask_file(str(tmp_path / "m.npz"), classes, weight=2.0)
    np.testing.assert_array_equal(guide.masks, masks)
    assert guide.counts.tolist() == [0, 2, 1] and guide.weight == 2.0


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


@pytest.mark.parametrize("network, layer, size", [
    (lambda: build_squeezenet(3, (96, 96, 3)), "cam", 96),
    (lambda: build_squeezenet(3, (224, 224, 3)), "cam", 224),
    (lambda: build_backbone("tiny", (32, 32, 3)), None, 32)])
def test_a_one_pixel_mask_lands_in_the_cell_with_the_nearest_centre(network, layer, size):
    geometry = receptive_field_geometry(network(), layer)
    ys, xs = geometry.centres()
    rng = np.random.default_rng(size)
    for _ in range(5):
        y, x = rng.integers(0, size, 2)
        if np.abs(np.abs(ys - y) - 0.5 * geometry.jump[0]).min() < 0.01 or \
                np.abs(np.abs(xs - x) - 0.5 * geometry.jump[1]).min() < 0.01:
            continue  # a tie between two cells
        mask = np.zeros((1, 1, size, size), "float32")
        mask[0, 0, y, x] = 1.0
        grid = masks_on_grid(mask, geometry, (size, size))[0, 0]
        cell = np.unravel_index(grid.argmax(), grid.shape)
        assert cell == (np.abs(ys - y).argmin(), np.abs(xs - x).argmin())
        assert grid.max() == 1.0 and np.count_nonzero(grid) == 1


def test_grid_masks_sample_the_centres_and_scale_with_the_mask_size():
    """A Gaussian drawn at half the model's resolution is sampled where the
    cells look; peak "one" rescales to 1, "raw" keeps the averages."""
    geometry = receptive_field_geometry(build_squeezenet(2, (96, 96, 3)), "cam")  # 15 + 16 n
    mask = gaussian_mask((48, 48), [(23.25, 7.25)], sigma=4.0)[None, None]  # (47, 15) at 96
    raw = masks_on_grid(mask, geometry, (96, 96), peak="raw")[0, 0]
    one = masks_on_grid(mask, geometry, (96, 96))[0, 0]
    assert np.unravel_index(raw.argmax(), raw.shape) == (2, 0)
    assert 0.3 < raw.max() < 1.0 and one.max() == pytest.approx(1.0)
    np.testing.assert_allclose(one, raw / raw.max(), rtol=1e-6)
    square = gaussian_mask((48, 48), [(23.25, 23.25)], sigma=4.0)[None, None]
    grid = masks_on_grid(square, geometry, (96, 96))[0, 0]
    assert np.unravel_index(grid.argmax(), grid.shape) == (2, 2)
    np.testing.assert_allclose(grid, grid.T, rtol=1e-6)  # an isotropic mask stays symmetric
    with pytest.raises(MaskError, match="mask_peak must be one of"):
        masks_on_grid(mask, geometry, (96, 96), peak="max")


def test_small_masks_are_named():
    geometry = receptive_field_geometry(build_squeezenet(3, (96, 96, 3)), "cam")
    masks = np.stack([[gaussian_mask((96, 96), [(47, 47)], 2.0)],   # one cell
                      [gaussian_mask((96, 96), [(47, 47)], 16.0)],  # several cells
                      [np.zeros((96, 96), "float32")]])             # no prior
    grid = masks_on_grid(masks, geometry, (96, 96))
    assert small_masks(grid, [1, 1, 0], ["dot", "blob", "away"]) == ["dot"]


def test_an_npz_declaring_huge_arrays_is_refused_before_loading(tmp_path, monkeypatch):
    """numpy allocates an .npy member's declared shape before reading it: a
    few hundred bytes may ask for terabytes. The header is read first."""
    import io
    import tracemalloc
    import zipfile

    from fsa import masks as masks_module
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                   "shape": (1000, 1000, 1000, 1000)})
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("masks.npy", header.getvalue() + b"\0" * 64)
        archive.writestr("counts.npy", b"")
    assert path.stat().st_size < 1000
    tracemalloc.start()
    with pytest.raises(MaskError, match=r"declares shape \(1000, 1000, 1000, 1000\).*3725"):
        load_masks(str(path), ["a"])
    assert tracemalloc.get_traced_memory()[1] < 50 << 20  # nothing big was allocated
    tracemalloc.stop()
    # The cap applies to what the arrays would take, compressed or not.
    np.savez_compressed(tmp_path / "zeros.npz", masks=np.zeros((2, 1, 256, 256), "float32"),
                        counts=[1, 0])
    monkeypatch.setattr(masks_module, "MAX_ARRAY_BYTES", 2 * 256 * 256 * 4 - 1)
    with pytest.raises(MaskError, match="more than"):
        load_masks(str(tmp_path / "zeros.npz"), ["a", "b"])
    monkeypatch.setattr(masks_module, "MAX_ARRAY_BYTES", 2 * 256 * 256 * 4)
    assert load_masks(str(tmp_path / "zeros.npz"), ["a", "b"])[0].shape == (2, 1, 256, 256)
