"""Demo datasets: deterministic, real images, the formats the methods need."""

import filecmp
import gzip
import os

import numpy as np
import pandas as pd
import pytest

from common.data import demo, where
from common.data import fashion_mnist as fashion_mnist_files
from common.data import read_table, validate


@pytest.mark.parametrize("name", ["digits", "where", "where-plain", "wsol"])
def test_demo_is_deterministic_and_valid(tmp_path, name):
    first = demo.demo_csv(name, root=str(tmp_path / "a"))
    second = demo.demo_csv(name, root=str(tmp_path / "b"))
    assert filecmp.cmp(first, second, shallow=False)
    frame = pd.read_csv(first)
    sample = frame["path"].iloc[::97]
    for path in sample:
        assert filecmp.cmp(os.path.join(os.path.dirname(first), path),
                           os.path.join(os.path.dirname(second), path), shallow=False)
    table, classes = read_table(first)
    assert set(frame["split"]) == {"train", "val", "test"}
    assert len(validate(table, classes)) == len(table)  # raises on any bad row


def test_where_demo_classes_and_masks(tmp_path):
    csv = demo.demo_csv("where", root=str(tmp_path))
    _, classes = read_table(csv)
    masks = np.load(os.path.join(os.path.dirname(csv), "masks.npz"))
    assert list(masks["classes"]) == classes == sorted(where.WHERE_CLASSES)
    assert masks["masks"].shape == (5, 2, 64, 64)
    counts = dict(zip(classes, masks["counts"]))
    assert counts == {"absent": 0, "bottom": 2, "center": 1, "top_left": 1, "top_right": 1}
    # Peak 1 at the class's centre: top_left peaks in the top-left quadrant.
    top_left = masks["masks"][classes.index("top_left"), 0]
    y, x = np.unravel_index(top_left.argmax(), top_left.shape)
    assert top_left.max() == pytest.approx(1.0) and y < 32 and x < 32


def _decoy_shade(path, patch):
    """Index of the shade of the uniform corner square (the decoy)."""
    import cv2
    image = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    size = image.shape[0]
    for y0 in (0, size - patch):
        for x0 in (0, size - patch):
            square = image[y0:y0 + patch, x0:x0 + patch]
            if square.min() == square.max():
                return int(np.argmin(np.abs(where.WHERE_DECOY_SHADES - square[0, 0])))
    raise AssertionError(f"{path}: no uniform corner square")


def test_where_decoy_gives_the_class_away_in_train_only(tmp_path):
    csv = demo.demo_csv("where", root=str(tmp_path))
    table, classes = read_table(csv)
    table["shade"] = [_decoy_shade(path, 64 // 6) for path in table["path"]]
    truth = table["labels"].map(lambda labels: classes.index(labels[0]))
    table["agrees"] = table["shade"] == truth
    assert table.loc[table["split"] == "train", "agrees"].all()
    for split in ("val", "test"):
        held_out = table[table["split"] == split]
        assert held_out["shade"].nunique() == len(classes)
        assert held_out["agrees"].mean() < 0.4  # chance: 1 in 5


def test_where_plain_is_where_without_the_square(tmp_path):
    import cv2
    shortcut, _ = read_table(demo.demo_csv("where", root=str(tmp_path)))
    plain, _ = read_table(demo.demo_csv("where-plain", root=str(tmp_path)))
    patch = 64 // 6
    assert shortcut["labels"].tolist() == plain["labels"].tolist()
    for a, b in zip(shortcut["path"][::50], plain["path"][::50]):
        x, y = cv2.imread(a, 0).astype(int), cv2.imread(b, 0).astype(int)
        changed = np.argwhere(x != y)
        assert 0 < len(changed) <= patch * patch  # only the corner square
        (y0, x0), (y1, x1) = changed.min(0), changed.max(0)
        assert y1 - y0 < patch and x1 - x0 < patch
        assert y0 in (0, 64 - patch) or y1 in (patch - 1, 63)


def test_wsol_boxes_enclose_the_object(tmp_path):
    csv = demo.demo_csv("wsol", root=str(tmp_path))
    table, _ = read_table(csv)
    assert table["boxes"].map(len).eq(1).all()
    import cv2
    for row in table.iloc[:20].itertuples():
        image = cv2.imread(row.path, cv2.IMREAD_GRAYSCALE).astype(float)
        x0, y0, x1, y1 = (int(v) for v in row.boxes[0])
        inside = image[y0:y1, x0:x1].mean()
        assert 0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 64
        assert inside > image.mean()  # the digit's ink is brighter than the clutter


def test_fashion_demo_reads_idx_files(tmp_path):
    if fashion_mnist_files.locate() is None:
        pytest.fail(fashion_mnist_files.missing_message())
    images, labels = demo.fashion_mnist("test")
    assert images.shape == (10000, 28, 28) and sorted(set(labels)) == list(range(10))
    csv = demo.demo_csv("fashion", root=str(tmp_path))
    assert pd.read_csv(csv)["label"].value_counts().eq(300).all()


def test_unknown_demo_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="^name: unknown demo 'demo:nope'; expected one of"):
        demo.demo_csv("nope", root=str(tmp_path))


def _idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_is_found_in_fashion_mnist_dir_first_and_missing_says_where(
        tmp_path, monkeypatch):
    folder = tmp_path / "fm"
    folder.mkdir()
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (7, 28, 28)), np.arange(7) % 10
    for prefix in ("train", "t10k"):
        _idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        _idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    monkeypatch.setenv("FASHION_MNIST_DIR", str(folder))
    read_images, read_labels = demo.fashion_mnist("test")
    np.testing.assert_array_equal(read_images, images)
    np.testing.assert_array_equal(read_labels, labels)
    (folder / "train-labels-idx1-ubyte.gz").unlink()  # incomplete: not used
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(fashion_mnist_files, "SYSTEM_DIR", str(tmp_path / "none"))
    with pytest.raises(FileNotFoundError) as error:
        demo.fashion_mnist("train")
    message = str(error.value)
    assert str(folder) in message and "make fashion-mnist" in message
    assert str(tmp_path / ".cache" / "attention-guided" / "fashion-mnist") in message
