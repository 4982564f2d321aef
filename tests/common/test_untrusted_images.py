"""Decompression bombs: an image whose header declares 100,000 x 100,000
pixels is refused from its header, before any decoder runs, in one line;
ordinary images still pass, with the size their header declares."""

import struct
import zlib

import cv2
import numpy as np
import pandas as pd
import pytest

from common.data import validation
from common.data.image_header import declared_size
from common.data.tables import DataError


def _png_bomb(path, side=100_000):
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(b"\0" * 65536, 9)) + chunk(b"IEND", b""))


def _jpeg_bomb(path):
    """A JPEG whose frame header (after an APP0 segment) declares 65500 x 65500."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\0\1\1\0\0\1\0\1\0\0"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 65500, 65500, 1) + b"\1\x11\0"
    path.write_bytes(b"\xff\xd8" + app0 + sof + b"\xff\xd9")


@pytest.fixture
def no_decoding(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a decoder ran")
    monkeypatch.setattr(validation.cv2, "imdecode", refuse)
    monkeypatch.setattr(validation.cv2, "imdecodemulti", refuse)


@pytest.mark.parametrize("make", [_png_bomb, _jpeg_bomb])
def test_a_decompression_bomb_is_refused_before_decoding(tmp_path, no_decoding, make):
    path = tmp_path / ("bomb.png" if make is _png_bomb else "bomb.jpg")
    make(path)
    with pytest.raises(DataError) as error:
        validation.check_images([str(path)])
    message = str(error.value)
    assert str(path) in message and "\n" not in message and "decompression bomb" in message
    table = pd.DataFrame({"path": [str(path)], "labels": [("a",)], "split": [""],
                          "boxes": [()]})
    with pytest.raises(DataError, match="decompression bomb"):
        validation.validate(table, ["a"])


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp", ".gif"])
def test_ordinary_images_declare_their_size(tmp_path, suffix):
    path = str(tmp_path / f"image{suffix}")
    image = np.random.default_rng(0).integers(0, 255, (37, 53, 3), dtype=np.uint8)
    if suffix == ".gif":
        ok, raw = cv2.imencode(".gif", image)
        assert ok
        raw.tofile(path)
    else:
        assert cv2.imwrite(path, image)
    assert declared_size(path) == (37, 53)
    validation.check_images([path])


def test_a_wsol_mask_bomb_is_refused_before_decoding(tmp_path, monkeypatch):
    """The protocol's ground-truth mask PNGs (common.wsol_metrics.read_mask) are
    files from elsewhere too."""
    from common import wsol_metrics as metrics

    def refuse(*args, **kwargs):
        raise AssertionError("a decoder ran")
    monkeypatch.setattr(metrics.cv2, "imread", refuse)
    path = tmp_path / "mask.png"
    _png_bomb(path)
    with pytest.raises(ValueError) as error:
        metrics.read_mask([str(path)])
    message = str(error.value)
    assert str(path) in message and "\n" not in message and "decompression bomb" in message
