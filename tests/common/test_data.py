"""Data tables, validation and tf.data pipelines on real files."""

import cv2
import numpy as np
import pandas as pd
import pytest

from common import data as datalib
from common.data.augment import RandomBrightnessScale, build_augmentation


def _write(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), array)
    return path


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "data"
    rng = np.random.default_rng(0)
    for name in ("cat", "dog"):
        for i in range(4):
            _write(root / name / f"{i}.png", rng.integers(0, 255, (10, 12, 3), np.uint8))
    return root


def test_folder_table_sorted_classes_and_errors(folder, tmp_path):
    table, classes = datalib.read_table(str(folder))
    assert classes == ["cat", "dog"] and len(table) == 8
    assert table["labels"].map(lambda l: l[0]).tolist() == ["cat"] * 4 + ["dog"] * 4
    (folder / "empty").mkdir()
    with pytest.raises(datalib.DataError, match="empty class folders.*empty"):
        datalib.read_table(str(folder))
    with pytest.raises(datalib.DataError, match="neither a CSV file nor a folder"):
        datalib.read_table(str(tmp_path / "nowhere"))


def test_csv_boxes_multilabel_relative_paths(tmp_path):
    _write(tmp_path / "img" / "a.png", np.zeros((20, 30, 3), np.uint8))
    _write(tmp_path / "img" / "b.png", np.zeros((20, 30), np.uint8))
    pd.DataFrame({"path": ["img/a.png", "img/a.png", "img/b.png", "img/b.png"],
                  "label": ["x", "x", "x", "y"], "split": ["train"] * 4,
                  "x0": [1, 5, 0, 0], "y0": [2, 6, 0, 0], "x1": [10, 29, 30, 3],
                  "y1": [12, 19, 20, 3]}).to_csv(tmp_path / "d.csv", index=False)
    table, classes = datalib.read_table(str(tmp_path / "d.csv"))
    assert classes == ["x", "y"]
    a = table[table["path"].str.endswith("a.png")].iloc[0]
    assert a["labels"] == ("x",) and a["boxes"] == ((1, 2, 10, 12), (5, 6, 29, 19))
    assert table["path"].map(lambda p: p.startswith(str(tmp_path))).all()
    assert datalib.is_multi_label(table)
    hot = datalib.encode_labels(table, classes, multi_label=True)
    np.testing.assert_array_equal(hot, [[1, 0], [1, 1]])
    assert len(datalib.validate(table, classes)) == 2


def test_validation_lists_every_bad_file_or_skips_them(folder, tmp_path, capsys):
    (folder / "cat" / "corrupt.png").write_bytes(b"\x89PNG garbage")
    table, classes = datalib.read_table(str(folder))
    table.loc[len(table)] = [str(folder / "dog" / "gone.png"), ("dog",), "", ()]
    table.loc[len(table)] = [str(folder / "dog" / "0.png"), ("bird",), "", ()]
    table.loc[len(table)] = [str(folder / "dog" / "1.png"), ("dog",), "", ((0, 0, 13, 5),)]
    with pytest.raises(datalib.DataError) as error:
        datalib.validate(table, classes)
    message = str(error.value)
    assert "4 bad" in message and "corrupt.png: corrupt" in message
    assert "gone.png: missing file" in message and "['bird'] not in the class list" in message
    assert "outside the 12x10 image" in message
    kept = datalib.validate(table, classes, skip_bad=True)
    assert len(kept) == 8 and "skipping 4 bad" in capsys.readouterr().err


def test_class_without_training_images_is_an_error(folder):
    table, classes = datalib.read_table(str(folder))
    with pytest.raises(datalib.DataError, match=r"no training images: \['dog'\]"):
        datalib.check_classes_present(table.iloc[:4], classes)


def test_dataset_decodes_grey_rgba_rgb_to_unit_rgb(tmp_path):
    grey = np.full((8, 8), 128, np.uint8)
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 2] = 255  # red in OpenCV's BGRA
    bgr = np.zeros((8, 8, 3), np.uint8)
    bgr[..., 0] = 255  # blue
    paths = [_write(tmp_path / "g.png", grey), _write(tmp_path / "a.png", rgba),
             _write(tmp_path / "c.jpg", bgr)]
    table = pd.DataFrame({"path": [str(p) for p in paths], "labels": [("a",)] * 3,
                          "split": "", "boxes": [()] * 3})
    images, labels = next(iter(datalib.make_dataset(table, ["a"], 4, batch_size=3)))
    images = images.numpy()
    assert images.shape == (3, 4, 4, 3) and images.dtype == np.float32
    np.testing.assert_allclose(images[0], 128 / 255, atol=1e-6)
    np.testing.assert_allclose(images[1], np.broadcast_to([1, 0, 0], (4, 4, 3)), atol=1e-6)
    np.testing.assert_allclose(images[2], np.broadcast_to([0, 0, 1], (4, 4, 3)), atol=0.02)
    np.testing.assert_array_equal(labels, [0, 0, 0])


def test_split_uses_column_or_stratified_seeded_split(folder):
    table, _ = datalib.read_table(str(folder))
    table = pd.concat([table] * 5, ignore_index=True)
    first = datalib.split_table(table, seed=3)
    again = datalib.split_table(table, seed=3)
    for a, b in zip(first, again):
        assert a["path"].tolist() == b["path"].tolist()
    assert sum(len(p) for p in first) == 40 and len(first[2]) == 4
    table["split"] = ["train"] * 30 + ["val"] * 5 + ["test"] * 5
    assert [len(p) for p in datalib.split_table(table)] == [30, 5, 5]


def test_brightness_scale_multiplies_each_image():
    x = np.full((4, 8, 8, 3), 0.5, np.float32)
    out = RandomBrightnessScale(0.5, 1.5, seed=1)(x).numpy()
    factors = out[:, 0, 0, 0] / 0.5
    assert np.all((factors >= 0.5) & (factors <= 1.5)) and np.ptp(factors) > 0
    np.testing.assert_allclose(out, factors[:, None, None, None] * x, rtol=1e-6)


def _gradient_images(n=6):
    """Asymmetric images: a horizontal ramp in red, a vertical one in green."""
    ramp = np.linspace(0.2, 0.8, 8, dtype=np.float32)  # a shift of 30/255 never clips
    image = np.stack([np.tile(ramp, (8, 1)), np.tile(ramp[:, None], (1, 8)),
                      np.full((8, 8), 0.5, np.float32)], axis=-1)
    return np.repeat(image[None], n, axis=0)


def test_each_augmentation_does_what_its_flag_says():
    x = _gradient_images(32)
    flipped = build_augmentation("horizontal", seed=3)(x, training=True).numpy()
    same = np.all(flipped == x, axis=(1, 2, 3))
    mirrored = np.all(flipped == x[:, :, ::-1], axis=(1, 2, 3))
    assert np.all(same | mirrored) and same.any() and mirrored.any()
    shifted = build_augmentation(channel_shift=30, seed=3)(x, training=True).numpy()
    offset = shifted - x  # one offset per image, the same on every channel and pixel
    np.testing.assert_allclose(offset, offset[:, :1, :1, :1] + 0 * offset, atol=1e-6)
    assert np.all(np.abs(offset[:, 0, 0, 0]) <= 30 / 255 + 1e-6) and np.ptp(offset) > 0
    rotated = build_augmentation(rotation=15, seed=3)(x, training=True).numpy()
    assert not np.allclose(rotated, x) and rotated.shape == x.shape
    centre = rotated[:, 3:5, 3:5]  # a rotation about the centre keeps the centre
    np.testing.assert_allclose(centre, x[:, 3:5, 3:5], atol=0.12)
    assert build_augmentation() is None
    everything = build_augmentation("horizontal", 15, 0.1, 0.15, (0.5, 1.5), 30)
    assert everything(x, training=False) is x or np.array_equal(everything(x, training=False), x)


def test_crop_from_trains_on_a_window_of_the_upscaled_image():
    """--crop-from 40 at 32 px: each output is one 32 x 32 window of the image
    resized to 40, windows differ between images; inference is untouched."""
    import keras

    from common.data.augment import build_augmentation
    images = np.random.default_rng(0).random((6, 32, 32, 3)).astype("float32")
    crop = build_augmentation(crop=(40, 32), seed=1)
    out = np.asarray(crop(images, training=True))
    upscaled = np.asarray(keras.layers.Resizing(40, 40)(images))
    offsets = []
    for got, big in zip(out, upscaled):
        matches = [(y, x) for y in range(9) for x in range(9)
                   if np.allclose(got, big[y:y + 32, x:x + 32], atol=1e-6)]
        assert len(matches) == 1, matches
        offsets.append(matches[0])
    assert len(set(offsets)) > 1
    np.testing.assert_array_equal(np.asarray(crop(images, training=False)).shape, images.shape)
