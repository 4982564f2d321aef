"""Hostile image files refused in this process by ``check_image`` and the
data check: formats TensorFlow cannot decode (12-bit, lossless or
arithmetic-coded JPEGs, RLE or 16-bit BMPs, WebP, ...) and sizes a GIF's
screen hides; WSOL mask tables; and the legitimate files that must keep
working, sized as their decoders size them. The readers' refusals in
capped processes are in test_hostile_images.py."""

import os
import struct

import cv2
import numpy as np
import pytest

from common.data.image_header import ImageRefused, check_image
from common.data.tables import DataError
from common.data.validation import check_images, validate
from tests.common.hostile_image_files import (app_segments, declaring, png_file, real_jpeg,
                                              sof_offset, tiff_file)


# Files the readers refuse, in this process: formats TensorFlow cannot
# decode (they would fail mid-training) and sizes the screen hides.

def _gif(screen, frames, trailer=True):
    """A GIF of ``screen`` (w, h) whose frames declare the (w, h) of ``frames``,
    each with one tiny LZW block."""
    data = b"GIF89a" + struct.pack("<HHBBB", *screen, 0x80, 0, 0) + b"\0" * 6
    for width, height in frames:
        data += b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
        data += b"\x02\x02\x4c\x01\x00"  # code size 2, one data block, terminator
    return data + (b"\x3b" if trailer else b"")


def _bmp(bits, compression=0, palette=None, width=4, height=4, cut=0):
    row = ((bits * width + 31) // 32) * 4
    palette = palette if palette is not None else (
        b"".join(bytes((i, i, i, 0)) for i in range(256)) if bits == 8 else b"")
    offset = 54 + len(palette)
    header = struct.pack("<IiiHHIIiiII", 40, width, height, 1, bits, compression,
                         row * height, 2835, 2835, len(palette) // 4, 0)
    pixels = b"\x40" * (row * height - cut)
    return (b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + header
            + palette + pixels)


def _twelve_bit(data):
    at = sof_offset(data)
    return data[:at + 4] + b"\x0c" + data[at + 5:]


def _frame_type(data, code):
    at = sof_offset(data)
    return data[:at + 1] + bytes((code,)) + data[at + 2:]


@pytest.mark.parametrize("name, make, words", [
    ("cut.jpg", lambda: real_jpeg(64)[:-300], "no end-of-image marker"),
    ("twelve.jpg", lambda: _twelve_bit(real_jpeg()), "12-bit samples"),
    ("lossless.jpg", lambda: _frame_type(real_jpeg(), 0xC3), "lossless JPEG"),
    ("arith.jpg", lambda: _frame_type(real_jpeg(), 0xC9), "arithmetic-coded JPEG"),
    ("zero.jpg", lambda: declaring(real_jpeg(), 0, 16), "declares 16x0 pixels"),
    ("scan_first.jpg", lambda: b"\xff\xd8\xff\xda\x00\x02" + b"\0" * 20 + b"\xff\xd9",
     "a scan at offset 2 before the frame header"),
    ("frames.gif", lambda: _gif((1, 1), [(60000, 60000)]), "declare 3600000000 pixels"),
    ("many.gif", lambda: _gif((13000, 13000), [(13000, 13000)] * 2), "decompression bomb"),
    ("notrailer.gif", lambda: _gif((4, 4), [(4, 4)], trailer=False), "no trailer"),
    ("rle.bmp", lambda: _bmp(8, compression=1), "compression 1"),
    ("four.bmp", lambda: _bmp(4, palette=b"\0" * 64), "4 bits per pixel"),
    ("sixteen.bmp", lambda: _bmp(16), "16 bits per pixel"),
    ("colours.bmp", lambda: _bmp(8, palette=bytes(range(256)) * 4), "colour palette"),
    ("short.bmp", lambda: _bmp(24, cut=10), "BMP cut short"),
    ("webp.png", lambda: b"RIFF\x10\0\0\0WEBPVP8 " + b"\0" * 20, "a WebP file"),
    ("garbage.png", lambda: b"\x89PNG\r\n\x1a\n" + b"garbage" * 9, "corrupt or not an image"),
])
def test_files_tensorflow_cannot_decode_are_refused(tmp_path, name, make, words):
    path = tmp_path / name
    path.write_bytes(make())
    with pytest.raises(ImageRefused) as error:
        check_image(path)
    message = str(error.value)
    assert str(path) in message and words in message and "\n" not in message, message
    with pytest.raises(DataError, match="bad image"):
        check_images([str(path)])


def test_a_wsol_mask_table_is_checked_before_training(tmp_path):
    """A table's WSOL masks (columns masks, ignore) are checked from their
    headers with its images: one line naming the mask."""
    import pandas as pd
    image, mask = png_file(tmp_path / "image.png"), tiff_file(tmp_path / "mask.png")
    table = pd.DataFrame({"path": [image], "labels": [("a",)], "split": [""], "boxes": [()],
                          "masks": [(str(mask),)], "ignore": [""]})
    with pytest.raises(DataError) as error:
        validate(table, ["a"])
    assert f"mask '{mask}': a TIFF file" in str(error.value)
    table["masks"] = [(png_file(tmp_path / "good_mask.png", (20, 20)),)]
    assert len(validate(table, ["a"])) == 1


# Legitimate files keep working, with the size their decoders give

def _legit(tmp_path):
    image = np.random.default_rng(1).integers(0, 255, (37, 53, 3), np.uint8)
    files = {}
    for name, params in (("baseline.jpg", {}), ("grey.jpg", {}),
                         ("progressive.jpg", {cv2.IMWRITE_JPEG_PROGRESSIVE: 1}),
                         ("restarts.jpg", {cv2.IMWRITE_JPEG_RST_INTERVAL: 2})):
        ok, raw = cv2.imencode(".jpg", image[..., 0] if name == "grey.jpg" else image,
                               [x for pair in params.items() for x in pair])
        files[name] = raw.tobytes()
    from PIL import Image
    picture = Image.fromarray(image)
    exif = picture.getexif()
    exif[0x010F] = "camera"  # Make
    picture.save(tmp_path / "exif.jpg", exif=exif, icc_profile=b"\0" * 150_000)
    picture.convert("CMYK").save(tmp_path / "cmyk.jpg")
    picture.convert("P").save(tmp_path / "palette.gif")
    files["big_app.jpg"] = app_segments(files["baseline.jpg"], 17 * 65537)
    files["fill.jpg"] = files["baseline.jpg"][:2] + b"\xff" * 5 + files["baseline.jpg"][2:]
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    fashion = np.random.default_rng(2).integers(0, 255, (28, 28), np.uint8)  # as the demo
    paths = [str(tmp_path / name) for name in (*files, "exif.jpg", "cmyk.jpg", "palette.gif")]
    paths += [png_file(tmp_path / "fashion.png", (28, 28)),
              png_file(tmp_path / "rgba.png", (9, 7, 4))]
    cv2.imwrite(str(tmp_path / "deep.png"), fashion.astype(np.uint16) * 257)
    for name, array in (("grey.bmp", fashion), ("colour.bmp", image),
                        ("alpha.bmp", np.dstack([image, image[..., :1]]))):
        cv2.imwrite(str(tmp_path / name), array)
    ok, raw = cv2.imencode(".gif", image)
    raw.tofile(str(tmp_path / "cv.gif"))
    paths += [str(tmp_path / n) for n in ("deep.png", "grey.bmp", "colour.bmp", "alpha.bmp",
                                          "cv.gif")]
    import skimage
    folder = os.path.join(os.path.dirname(skimage.__file__), "data")
    samples = sorted(os.path.join(folder, name) for name in os.listdir(folder)
                     if name.endswith((".png", ".jpg", ".gif")))
    assert len(samples) > 25
    return paths + samples


def test_legitimate_images_keep_working_with_the_size_they_decode_to(tmp_path):
    """scikit-image's sample PNGs, JPEGs and the animated GIF, the demo's
    Fashion-MNIST PNGs, progressive, restart-marker, EXIF (APP1) + ICC
    (APP2), CMYK and grey JPEGs, JPEGs with 1.1 MiB of APP segments or
    fill bytes, 16-bit and RGBA PNGs, 8/24/32-bit BMPs, GIFs: sized from
    the header as OpenCV and TensorFlow decode them."""
    import tensorflow as tf
    paths = _legit(tmp_path)
    for path in paths:
        size = check_image(path)
        decoded = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
        assert decoded is not None and size == decoded.shape[:2], (path, size)
        if os.path.getsize(path) < 300_000:
            image = tf.io.decode_image(tf.io.read_file(path), channels=3,
                                       expand_animations=False)
            assert tuple(image.shape[:2]) == size, path
    check_images(paths)
