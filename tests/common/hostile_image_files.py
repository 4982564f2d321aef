"""Hostile image files built from real ones (OpenCV's JPEGs, TIFFs, PPMs and
PNGs, patched where a header should lie): shared by test_hostile_images.py
(read by the real readers in capped processes) and
test_hostile_image_formats.py (checked in this process)."""

import os
import struct

import cv2
import numpy as np


def real_jpeg(side=16, **params):
    image = np.random.default_rng(0).integers(0, 255, (side, side, 3), np.uint8)
    ok, raw = cv2.imencode(".jpg", image, [item for pair in params.items() for item in pair])
    assert ok
    return raw.tobytes()


def _segments(data):
    """(offset, marker code) of each marker up to the first scan."""
    at, found = 2, []
    while True:
        code = data[at + 1]
        found.append((at, code))
        if code == 0xDA:
            return found
        at += 2 + struct.unpack(">H", data[at + 2:at + 4])[0]


def sof_offset(data):
    return next(at for at, code in _segments(data) if code in (0xC0, 0xC1, 0xC2))


def declaring(data, height, width):
    """The JPEG with its frame header patched to declare height x width."""
    at = sof_offset(data)
    return data[:at + 5] + struct.pack(">HH", height, width) + data[at + 9:]


def stray_byte_before_sof(data):
    at = sof_offset(data)
    return data[:at] + b"\x00" + data[at:]


def app_segments(data, total):
    """The JPEG with APP11 segments of ``total`` bytes in all after its SOI."""
    segments = b""
    while len(segments) < total:
        payload = b"\x5a" * min(65533, total - len(segments))
        segments += b"\xff\xeb" + struct.pack(">H", len(payload) + 2) + payload
    return data[:2] + segments + data[2:]


def tiff_file(path, side=None):
    """A real TIFF (cv2.imwrite('x.tiff')) renamed to ``path``; ``side``:
    its directory patched to declare side x side pixels in one strip."""
    tiff = str(path) + ".tiff"
    assert cv2.imwrite(tiff, np.full((8, 8), 7, np.uint8))
    with open(tiff, "rb") as handle:
        data = bytearray(handle.read())
    os.remove(tiff)
    if side:
        (offset,) = struct.unpack("<I", data[4:8])
        for i in range(struct.unpack("<H", data[offset:offset + 2])[0]):
            entry = offset + 2 + 12 * i
            tag, kind = struct.unpack("<HH", data[entry:entry + 4])
            if tag in (256, 257, 278):  # ImageWidth, ImageLength, RowsPerStrip
                data[entry + 8:entry + 12] = struct.pack("<HH" if kind == 3 else "<I",
                                                          *((side, 0) if kind == 3 else (side,)))
    path.write_bytes(bytes(data))
    return path


def ppm_file(path):
    ppm = str(path) + ".ppm"
    assert cv2.imwrite(ppm, np.full((8, 8, 3), 7, np.uint8))
    os.replace(ppm, path)
    return path


def png_file(path, shape=(20, 20, 3), seed=0):
    assert cv2.imwrite(str(path), np.random.default_rng(seed).integers(0, 255, shape, np.uint8))
    return str(path)
