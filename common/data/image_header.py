"""Every image file is checked here before any decoder runs.

Only PNG, JPEG, GIF and BMP files whose header this module can read are
decoded anywhere in the toolkit (training, explain, evaluate, WSOL masks,
AG-Net's regions): their declared size is read without decoding, so a
decompression bomb (a small file that declares 100,000 x 100,000 pixels)
is refused before a decoder allocates its pixels, and a file of another
format (a TIFF or PPM named ``.png``), a header cut short or one that does
not parse is refused in one line instead of reaching OpenCV or
TensorFlow, which decode more formats, resynchronise over stray bytes and
have limits of their own. The variants TensorFlow's decoders cannot read
(12-bit, lossless or arithmetic JPEGs, a JPEG without its end marker,
compressed or 1/4/16-bit BMPs) are refused too, so a file that passes here
does not fail mid-training."""

import mmap
import os
import re
import stat
import struct

# Pillow's DecompressionBombError threshold: no dataset image comes near it.
MAX_IMAGE_PIXELS = 2 * 89_478_485
FORMATS = "PNG, JPEG, GIF or BMP"
_FILL = re.compile(rb"\xff+")

# What a refused file starts with, to say what it is.
_OTHER_FORMATS = [
    (b"II*\0", "TIFF"), (b"MM\0*", "TIFF"), (b"II+\0", "BigTIFF"), (b"MM\0+", "BigTIFF"),
    (b"8BPS", "Photoshop"), (b"\x76\x2f\x31\x01", "OpenEXR"), (b"#?RADIANCE", "Radiance HDR"),
    (b"#?RGBE", "Radiance HDR"), (b"\0\0\0\x0cjP  ", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"), (b"\xff\x0a", "JPEG XL"),
    (b"\0\0\0\x0cJXL ", "JPEG XL"), (b"%PDF", "PDF"), (b"PK\3\4", "zip"),
    (b"\x1f\x8b", "gzip"), (b"\0\0\1\0", "ICO"), (b"<?xml", "XML/SVG"), (b"<svg", "SVG"),
    (b"\x93NUMPY", "NumPy .npy"),
]


class ImageRefused(ValueError):
    """An image file refused before decoding: one line naming the file
    (``str``), and ``reason`` alone (for listings that name it already)."""

    def __init__(self, path, reason):
        self.path, self.reason = path, reason
        super().__init__(f"image '{path}': {reason}")

    def __reduce__(self):
        return type(self), (self.path, self.reason)


class _Refused(Exception):
    """A reason, raised inside the parsers; ``check_image`` adds the path."""


def _corrupt(detail):
    return _Refused(f"corrupt or not an image ({detail})")


def _what_it_is(head):
    if re.match(rb"P[1-7][ \t\r\n#]", head):
        return "PPM/PGM/PBM (Netpbm)"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    if head[4:8] == b"ftyp":
        return "HEIF/AVIF/MP4"
    return next((name for magic, name in _OTHER_FORMATS if head.startswith(magic)), None)


def _pixels(height, width):
    if height <= 0 or width <= 0:
        raise _Refused(f"declares {width}x{height} pixels (none to decode)")
    if height * width > MAX_IMAGE_PIXELS:
        raise _Refused(f"declares {width}x{height} pixels, more than "
                       f"{MAX_IMAGE_PIXELS} (a decompression bomb?); refused before decoding")
    return height, width


def _png(data):
    if len(data) < 33:
        raise _corrupt("PNG header cut short")
    if data[8:16] != b"\0\0\0\x0dIHDR":
        raise _corrupt("PNG header unparseable: no 13-byte IHDR chunk first")
    width, height = struct.unpack(">II", data[16:24])
    return _pixels(height, width)


def _gif(data):
    """The screen's size; every frame is walked (a frame may declare more
    pixels than the screen, and giflib allocates each frame's)."""
    if len(data) < 13:
        raise _corrupt("GIF header cut short")
    width, height, packed = struct.unpack("<HHB", data[6:11])
    size = _pixels(height, width)
    at = 13 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
    frames = total = 0
    while True:
        if at >= len(data):
            raise _corrupt(f"GIF cut short after {frames} frame(s): no trailer")
        kind = data[at]
        if kind == 0x3B:  # trailer
            break
        if kind == 0x2C:  # image descriptor
            if at + 10 > len(data):
                raise _corrupt("GIF cut short in a frame header")
            frame_w, frame_h, packed = struct.unpack("<HHB", data[at + 5:at + 10])
            frames += 1
            total += frame_w * frame_h
            if total > MAX_IMAGE_PIXELS:
                raise _Refused(f"GIF's first {frames} frame(s) declare {total} pixels, more "
                               f"than {MAX_IMAGE_PIXELS} (a decompression bomb?); refused "
                               "before decoding")
            at += 10 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0) + 1  # + LZW size
        elif kind == 0x21:  # extension: label, then data blocks
            at += 2
        else:
            raise _corrupt(f"GIF unparseable: byte 0x{kind:02x} at offset {at} where a "
                           "block was expected")
        while at < len(data) and data[at]:  # data sub-blocks up to a zero length
            at += data[at] + 1
        at += 1
    if not frames:
        raise _corrupt("GIF without a frame")
    return size


def _bmp(data, file_bytes):
    """TensorFlow's BMP decoder reads uncompressed 8-, 24- and 32-bit files
    with a Windows header (40 bytes or more) and takes 8-bit values as grey."""
    if len(data) < 54:
        raise _corrupt("BMP header cut short")
    offset, header = struct.unpack("<II", data[10:18])
    if header < 40:
        raise _Refused(f"BMP with a {header}-byte (OS/2) header; only Windows BMPs "
                       "(40 bytes or more) are read")
    width, height, _, bits, compression, _, _, _, colours = struct.unpack(
        "<iiHHIIiiI", data[18:50])
    if width < 0:
        raise _corrupt(f"BMP header unparseable: width {width}")
    size = _pixels(abs(height), width)
    if bits not in (8, 24, 32) or not (compression == 0 or (compression == 3 and bits == 32)):
        raise _Refused(f"BMP of {bits} bits per pixel, compression {compression}; only "
                       "uncompressed 8-, 24- and 32-bit BMPs are read")
    if bits == 8:
        count = colours or 256
        palette = data[14 + header:14 + header + 4 * count]
        if len(palette) < 4 * count or any(palette[4 * i:4 * i + 3] != bytes((i, i, i))
                                           for i in range(count)):
            raise _Refused("8-bit BMP with a colour palette (its values are read as grey); "
                           "save it as PNG")
    needed = offset + ((bits * width + 31) // 32) * 4 * abs(height)
    if file_bytes < needed:
        raise _corrupt(f"BMP cut short: its header declares {needed} bytes, the file holds "
                       f"{file_bytes}")
    return size


_JPEG_FRAMES = {0xC0: "baseline", 0xC1: "extended", 0xC2: "progressive", 0xC3: "lossless",
                0xC5: "hierarchical", 0xC6: "hierarchical", 0xC7: "hierarchical",
                0xC9: "arithmetic-coded", 0xCA: "arithmetic-coded", 0xCB: "lossless",
                0xCD: "hierarchical", 0xCE: "hierarchical", 0xCF: "hierarchical"}
# Segments with a length that may come before the frame header: DHT, DAC, DQT,
# DNL, DRI, APP0-15, COM (libjpeg refuses any other marker there).
_JPEG_SEGMENTS = {0xC4, 0xCC, 0xDB, 0xDC, 0xDD, *range(0xE0, 0xF0), 0xFE}


def _jpeg(data):
    """The frame header's size, its markers walked strictly from the start:
    libjpeg would skip a stray byte and resynchronise on a frame header
    further on, past the one read here, so a stray byte is refused."""
    at = 2
    while True:
        if at >= len(data):
            raise _corrupt("JPEG cut short before its frame header")
        if data[at] != 0xFF:
            raise _corrupt(f"JPEG header unparseable: byte 0x{data[at]:02x} at offset {at} "
                           "where a marker was expected")
        at = _FILL.match(data, at).end()  # 0xFF fill bytes, then the marker's code
        if at >= len(data):
            raise _corrupt("JPEG cut short before its frame header")
        code, at = data[at], at + 1
        if code == 0x01 or 0xD0 <= code <= 0xD7:  # TEM, RSTn: no segment
            continue
        if code in _JPEG_FRAMES or code in _JPEG_SEGMENTS:
            if at + 2 > len(data):
                raise _corrupt("JPEG cut short before its frame header")
            (length,) = struct.unpack(">H", data[at:at + 2])
            if length < 2 or at + length > len(data):
                raise _corrupt(f"JPEG cut short or unparseable: segment 0x{code:02x} at offset "
                               f"{at - 2} declares {length} bytes")
            if code in _JPEG_FRAMES:
                break
            at += length
            continue
        what = {0xD8: "a second start of image", 0xD9: "its end", 0xDA: "a scan"}.get(
            code, f"marker 0x{code:02x}")
        raise _corrupt(f"JPEG header unparseable: {what} at offset {at - 2} before the "
                       "frame header")
    if code not in (0xC0, 0xC1, 0xC2):
        raise _Refused(f"{_JPEG_FRAMES[code]} JPEG (frame type 0x{code:02x}); only baseline, "
                       "extended and progressive JPEGs are read")
    if length < 8:
        raise _corrupt("JPEG frame header cut short")
    precision, height, width, components = struct.unpack(">BHHB", data[at + 2:at + 8])
    if precision != 8:
        raise _Refused(f"JPEG of {precision}-bit samples; only 8-bit JPEGs are read")
    if components not in (1, 3, 4):
        raise _Refused(f"JPEG of {components} components; 1 (grey), 3 or 4 are read")
    size = _pixels(height, width)
    if data.rfind(b"\xff\xd9", at + length) < 0:
        raise _corrupt("JPEG cut short: no end-of-image marker after its frame header, "
                       "an interrupted download?")
    return size


def _size(path):
    try:
        info = os.stat(path)
    except OSError as error:
        raise _Refused(f"unreadable ({error.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise _Refused("not a regular file")
    if info.st_size == 0:
        raise _Refused("empty file (0 bytes)")
    try:
        with open(path, "rb") as handle, \
                mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            head = data[:16]
            if head.startswith(b"\x89PNG\r\n\x1a\n"):
                return _png(data)
            if head.startswith(b"\xff\xd8"):
                return _jpeg(data)
            if head[:6] in (b"GIF87a", b"GIF89a"):
                return _gif(data)
            if head.startswith(b"BM"):
                return _bmp(data, info.st_size)
    except (OSError, ValueError) as error:  # ValueError: mmap of a file that shrank
        raise _Refused(f"unreadable ({getattr(error, 'strerror', None) or error})") from None
    kind = _what_it_is(head)
    if kind:
        raise _Refused(f"a {kind} file, not a {FORMATS}; only those are decoded")
    raise _corrupt(f"not a {FORMATS} file")


def check_image(path):
    """(height, width) of the image at ``path`` from its header, without
    decoding it; raises ImageRefused (a ValueError of one line naming the
    file) when it must not reach a decoder: missing or not a regular
    file, empty, not a PNG, JPEG, GIF or BMP whatever its name says, a
    header cut short or unparseable, a variant TensorFlow cannot decode,
    or more than ``MAX_IMAGE_PIXELS`` pixels declared."""
    path = os.fspath(path)
    try:
        return tuple(_size(path))
    except _Refused as refused:
        raise ImageRefused(path, str(refused)) from None


def declared_size(path):
    """(height, width) the header declares (``check_image``), or None where
    the file is refused."""
    try:
        return check_image(path)
    except ImageRefused:
        return None


def file_size(path):
    """(height, width) of an image file from its header (``check_image``:
    a file it refuses is never decoded to find out)."""
    return check_image(path)


def too_large(path):
    """Why ``path`` must not be decoded (``check_image``'s reason), or None."""
    try:
        check_image(path)
    except ImageRefused as refused:
        return refused.reason
    return None
