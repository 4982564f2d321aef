"""Hostile image files: every reader of image files (training's data check,
explain's inputs, WSOL masks, AG-Net's regions) decodes only PNG, JPEG, GIF
and BMP files whose header ``check_image`` reads and sizes. Anything else
(a TIFF or PPM named .png, an empty file, a JPEG with a stray byte before
its frame header) is one line naming the file, before any decoder runs.

Each hostile file here is read by the real reader in a fresh process under
an address-space cap (tests/hostile.py), its peak memory measured: a guard
that stops working fails here instead of taking the machine's memory. The
formats refused in this process, and the legitimate files that must still
pass, are in test_hostile_image_formats.py."""

import json
import os
import sys

import pytest

from tests.common.hostile_image_files import (app_segments, declaring, png_file, ppm_file,
                                              real_jpeg, stray_byte_before_sof, tiff_file)
from tests.hostile import GIB, run_capped

BIN = os.path.dirname(sys.executable)  # the virtual environment's console scripts
NO_TF_RSS = 400 * 10 ** 6  # a reader without TensorFlow: about 210 MB resident

# The real readers, in a fresh process: a ValueError is one line, exit 2.
READERS = {
    "data": "from common.data.validation import check_images; check_images([PATH])",
    "mask": "from common.wsol_metrics import read_mask; read_mask([PATH])",
    "agnet": "from agnet.cache import load_rgb; load_rgb(PATH, 32)",
}


def _read_capped(reader, path):
    code = (f"import sys\nPATH = {str(path)!r}\ntry:\n"
            + "".join(f"    {statement}\n" for statement in READERS[reader].split("; "))
            + "except ValueError as error:\n    print(error, file=sys.stderr)\n"
              "    sys.exit(2)\nprint('decoded', file=sys.stderr)\n")
    return run_capped(code, cap=GIB + GIB // 2, timeout=60)


def _refused(result, path, *words, rss=NO_TF_RSS):
    line = result.one_line()
    assert str(path) in line, line
    for word in words:
        assert word in line, line
    assert result.peak_rss < rss, (result.peak_rss, line)
    return line


# The five ways around the old header check

def test_a_stray_byte_before_the_jpeg_frame_header_is_refused(tmp_path):
    """libjpeg skips a stray byte and resynchronises on the frame header
    behind it: the old reader gave up there and the file (632 bytes)
    decoded to 20000 x 20000 x 3 (1.2 GB). Now refused, undecoded."""
    path = tmp_path / "stray.jpg"
    path.write_bytes(stray_byte_before_sof(declaring(real_jpeg(), 20000, 20000)))
    line = _refused(_read_capped("data", path), path, "JPEG header unparseable",
                    "where a marker was expected")
    assert "\n" not in line


def test_app_segments_over_a_mebibyte_do_not_hide_the_frame_header(tmp_path):
    """The old reader searched the first 1 MiB for the frame header; behind
    1.1 MiB of APP segments a 20000 x 20000 frame decoded whole. Every
    segment is stepped over now, however many."""
    path = tmp_path / "behind_app.jpg"
    path.write_bytes(app_segments(declaring(real_jpeg(), 20000, 20000), 17 * 65537))
    assert path.stat().st_size > (1 << 20)
    _refused(_read_capped("data", path), path, "declares 20000x20000 pixels",
             "decompression bomb")


@pytest.mark.parametrize("reader", ["data", "mask", "agnet"])
def test_a_tiff_named_png_is_refused_by_every_reader(tmp_path, reader):
    """A TIFF (saved by cv2.imwrite) renamed .png, declaring 32000 x 32000
    pixels: OpenCV decodes TIFFs, so the old header check (PNG, JPEG, GIF,
    BMP or nothing) let it through to the decoder, as an image or a mask."""
    path = tiff_file(tmp_path / "scan.png", side=32000)
    assert path.stat().st_size < 300
    _refused(_read_capped(reader, path), path, "a TIFF file", "not a PNG, JPEG, GIF or BMP")


@pytest.mark.parametrize("reader", ["data", "mask"])
def test_an_empty_png_is_one_line(tmp_path, reader):
    """A zero-byte .png was a cv2 traceback (``!buf.empty()``)."""
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    _refused(_read_capped(reader, path), path, "empty file")


def test_a_tiff_or_ppm_named_png_stops_training_before_it_starts(tmp_path):
    """They passed the data check (OpenCV reads both) and then failed in
    TensorFlow's decoder mid-training, a traceback and no FAILED note.
    Now training refuses them in one line, exit 2, before anything is
    written."""
    rows = ["path,label"]
    for i in range(4):
        name = os.path.basename(png_file(tmp_path / f"ok{i}.png", seed=i))
        rows.append(f"{name},{'ab'[i % 2]}")
    tiff_file(tmp_path / "scan.png")
    ppm_file(tmp_path / "photo.png")
    rows += ["scan.png,a", "photo.png,b"]
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "run"
    result = run_capped([os.path.join(BIN, "attention-train"), "--data",
                         str(tmp_path / "data.csv"), "--backbone", "tiny", "--weights", "none",
                         "--image-size", "16", "--epochs", "1", "--batch-size", "2",
                         "--verbose", "0", "--output", str(out)], timeout=300)
    line = _refused(result, tmp_path / "scan.png", str(tmp_path / "photo.png"), "a TIFF file",
                    "Netpbm", "2 bad data image(s)", rss=2 * GIB)
    assert not out.exists(), line


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    from common.backbones import build_backbone
    from common.classifier import build_cam_classifier
    folder = tmp_path_factory.mktemp("model")
    build_cam_classifier(build_backbone("tiny", (24, 24, 3)), 2).save(folder / "model.keras")
    (folder / "classes.json").write_text(json.dumps(["a", "b"]))
    return str(folder / "model.keras")


def test_explain_refuses_hostile_images_before_the_model_loads(tmp_path, saved_model):
    """attention-explain's inputs: the stray-byte JPEG bomb and a TIFF named
    .png, one line naming both, exit 2, nothing decoded or written."""
    stray = tmp_path / "stray.jpg"
    stray.write_bytes(stray_byte_before_sof(declaring(real_jpeg(), 20000, 20000)))
    tiff = tiff_file(tmp_path / "scan.png", side=32000)
    good = png_file(tmp_path / "good.png")
    out = tmp_path / "out"
    result = run_capped([os.path.join(BIN, "attention-explain"), "--model", saved_model,
                         "--out", str(out), good, str(stray), str(tiff)], timeout=300)
    _refused(result, stray, str(tiff), "JPEG header unparseable", "a TIFF file",
             rss=GIB)
    assert str(good) not in result.lines[0] and not out.exists()
