"""The size an image file declares in its header, read without decoding:
a decompression bomb (a small PNG that declares 100,000 x 100,000 pixels)
is refused before a decoder allocates its pixels."""

import struct

# Pillow's DecompressionBombError threshold: no dataset image comes near it.
MAX_IMAGE_PIXELS = 2 * 89_478_485
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_JPEG_HEADER_LIMIT = 1 << 20  # bytes searched for the frame header (past EXIF, ICC)


def _jpeg_size(handle):
    handle.seek(2)
    while handle.tell() < _JPEG_HEADER_LIMIT:
        byte = handle.read(1)
        if byte != b"\xff":
            return None
        marker = handle.read(1)
        while marker == b"\xff":  # fill bytes
            marker = handle.read(1)
        if not marker:
            return None
        code = marker[0]
        if code == 0x01 or 0xD0 <= code <= 0xD8:  # markers without a segment
            continue
        raw = handle.read(2)
        if len(raw) < 2:
            return None
        (length,) = struct.unpack(">H", raw)
        if code in _JPEG_SOF:
            raw = handle.read(5)
            return struct.unpack(">xHH", raw) if len(raw) == 5 else None
        handle.seek(length - 2, 1)
    return None


def declared_size(path):
    """(height, width) from a PNG, JPEG, GIF or BMP header; None if the
    header is not one of them or is cut short (the decoder then says why)."""
    with open(path, "rb") as handle:
        head = handle.read(26)
        if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR" and len(head) >= 24:
            width, height = struct.unpack(">II", head[16:24])
            return height, width
        if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
            width, height = struct.unpack("<HH", head[6:10])
            return height, width
        if head[:2] == b"BM" and len(head) >= 26:
            if struct.unpack("<I", head[14:18])[0] == 12:  # OS/2 header: 16-bit sizes
                width, height = struct.unpack("<HH", head[18:22])
            else:
                width, height = struct.unpack("<ii", head[18:26])
            return abs(height), abs(width)
        if head[:2] == b"\xff\xd8":
            return _jpeg_size(handle)
    return None


def file_size(path):
    """(height, width) of an image file: from its header, or by decoding it
    when the header is none that ``declared_size`` reads."""
    size = declared_size(path)
    if size is None:
        import cv2
        size = cv2.imread(path, cv2.IMREAD_UNCHANGED).shape[:2]
    return tuple(size)


def too_large(path):
    """Why ``path`` must not be decoded (it declares more than
    ``MAX_IMAGE_PIXELS`` pixels), or None."""
    size = declared_size(path)
    if size and size[0] * size[1] > MAX_IMAGE_PIXELS:
        return (f"declares {size[1]}x{size[0]} pixels, more than {MAX_IMAGE_PIXELS} "
                "(a decompression bomb?); refused before decoding")
    return None
