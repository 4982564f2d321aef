""".keras models and .weights.h5 files that declare far more than they hold:
a weights file whose datasets declare 18.6 GiB with no storage allocated, a
config that gives a Dense layer 10^8 units, a config.json zip bomb, a config
nested 100,000 deep. Each is read by the real reader in a fresh process
under an address-space cap: one stderr line naming the file and why, exit
status 2, in about what TensorFlow's import takes; toolkit models still load."""

import json
import os
import sys
import time
import zipfile

import cv2
import h5py
import keras
import numpy as np
import pytest

from common.backbones.tiny import tiny_convnet
from common.keras_compat import check_weights_file, variable_budget
from common.saving import load_model
from tests.hostile import GIB, run_capped

BIN = os.path.dirname(sys.executable)
LEGACY = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "legacy")
# A refusal costs about what importing TensorFlow does (0.7-0.9 GB resident
# here); the hostile files ask for 3 to 19 GiB.
PEAK = 1.2e9
SECONDS = 60
CAP = 2 * GIB + GIB // 2  # address space: TensorFlow reserves about 2 GiB
# The reader, as a command calls it: a ValueError is its one stderr line
# (TensorFlow's start-up notices, which no log level reaches, silenced).
READER = """
import sys
from common.commandline.quiet import native_stderr_silenced
try:
    with native_stderr_silenced():
        {call}
except ValueError as error:
    sys.exit(print(error, file=sys.stderr) or 2)
"""
LOAD_MODEL = READER.format(call="from common.saving import load_model; load_model(sys.argv[1])")
LOAD_BACKBONE = READER.format(call="from common.backbones import build_backbone; "
                              "build_backbone('tiny', (32, 32, 3), weights=sys.argv[1])")


def _refused(argv, path, *why):
    """Runs ``argv`` capped; its one stderr line names ``path`` and ``why``."""
    start = time.monotonic()
    result = run_capped(argv, cap=CAP)
    seconds = time.monotonic() - start
    line = result.one_line()
    assert str(path) in line and all(word in line for word in why), line
    assert result.peak_rss < PEAK and seconds < SECONDS, (result.peak_rss, seconds, line)
    return line


def _huge_weights(path, count=5):
    """A tiny convnet's .weights.h5 whose first ``count`` datasets are
    redeclared (1000, 999999) float32, 3.7 GiB each (under Keras's own 4 GiB
    per-dataset floor), with no storage allocated: 18.6 GiB in ~100 KB."""
    tiny_convnet((32, 32, 3)).save_weights(path)
    with h5py.File(path, "r+") as handle:
        names = []
        handle.visititems(lambda name, item: names.append(name)
                          if isinstance(item, h5py.Dataset) else None)
        for name in names[:count]:
            del handle[name]
            handle.create_dataset(name, shape=(1000, 999_999), dtype="float32")
    assert os.path.getsize(path) < 256 << 10


def _small_keras(path):
    inputs = keras.Input((8,))
    keras.Model(inputs, keras.layers.Dense(2, name="head")(inputs)).save(path)


def _rewrite(path, target, **members):
    """A copy of the .keras ``path`` at ``target`` with ``members`` replaced
    (bytes, or a function writing into the open member)."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(target, "w") as archive:
        for info in source.infolist():
            if info.filename not in members:
                archive.writestr(info, source.read(info))
        for name, content in members.items():
            if callable(content):  # deflated
                info = zipfile.ZipInfo(name)
                info.compress_type = zipfile.ZIP_DEFLATED
                with archive.open(info, "w", force_zip64=True) as member:
                    content(member)
            else:
                archive.writestr(name, content)


def _image(folder):
    path = folder / "image.png"
    cv2.imwrite(str(path), np.zeros((8, 8, 3), np.uint8))
    return path


def test_weights_declaring_gigabytes_are_refused_before_loading(tmp_path):
    path = tmp_path / "evil.weights.h5"
    _huge_weights(path)
    _refused([sys.executable, "-c", LOAD_BACKBONE, str(path)], path,
             "declares 18.6 GiB", "refused before loading")


def test_a_keras_whose_weights_member_declares_gigabytes_is_refused(tmp_path):
    weights, model = tmp_path / "member.weights.h5", tmp_path / "small.keras"
    _huge_weights(weights, count=1)
    _small_keras(model)
    _rewrite(model, tmp_path / "evil.keras", **{"model.weights.h5": weights.read_bytes()})
    _refused([sys.executable, "-c", LOAD_MODEL, str(tmp_path / "evil.keras")],
             tmp_path / "evil.keras", "model.weights.h5", "declares 3.7 GiB")
    # Loading those weights into a built model (model.load_weights) checks the same.
    with pytest.raises(ValueError, match="declares 3.7 GiB"):
        check_weights_file(tmp_path / "evil.keras")


def test_a_config_building_a_huge_layer_is_refused_before_allocating(tmp_path):
    """Dense(10^8) on 8 features: a 3 GiB kernel. The installed command."""
    _small_keras(tmp_path / "small.keras")
    with zipfile.ZipFile(tmp_path / "small.keras") as archive:
        config = json.loads(archive.read("config.json"))
    dense = [layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense"]
    dense[0]["config"]["units"] = 10**8
    path = tmp_path / "evil.keras"
    _rewrite(tmp_path / "small.keras", path, **{"config.json": json.dumps(config)})
    # env -u: the command as a user runs it, with no TF_CPP_MIN_LOG_LEVEL of
    # their own (run_capped sets one, which turns TensorFlow's notices on).
    line = _refused(["env", "-u", "TF_CPP_MIN_LOG_LEVEL", os.path.join(BIN, "attention-explain"),
                     "--model", str(path),
                     "--out", str(tmp_path / "out"), str(_image(tmp_path))], path,
                    "variables", "(8, 100000000)", "refused before allocating")
    assert line.startswith("attention-explain"), line


def test_the_variable_budget_counts_before_allocating():
    """The Keras internal it hooks still holds: a 400 GB variable is refused
    inside the budget, and variables outside it are untouched."""
    with variable_budget(1 << 20) as budget:
        with pytest.raises(ValueError, match="refused before allocating"):
            keras.Variable(initializer="zeros", shape=(10**5, 10**6), name="huge")
    assert budget.refused and keras.Variable(initializer="zeros", shape=(4,)).shape == (4,)


@pytest.mark.parametrize("stored", [False, True])
def test_a_zip_bomb_config_is_refused_from_its_header(tmp_path, stored):
    """config.json: 1 GiB of spaces deflated into about 1 MB (more than the
    archive's members may declare), or 65 MiB stored (more than a config may
    hold)."""
    _small_keras(tmp_path / "small.keras")
    path = tmp_path / "evil.keras"

    def spaces(member):
        for _ in range(16):
            member.write(b" " * (64 << 20))
    _rewrite(tmp_path / "small.keras", path,
             **{"config.json": b" " * (65 << 20) if stored else spaces})
    why = (("config.json declares 65.0 MiB", "refused before reading") if stored else
           ("declare 1.0 GiB", "decompression bomb"))
    _refused([sys.executable, "-c", LOAD_MODEL, str(path)], path, *why)


@pytest.mark.parametrize("depth", [100_000, 500])
def test_a_config_nested_deep_is_one_line(tmp_path, depth):
    _small_keras(tmp_path / "small.keras")
    path = tmp_path / "deep.keras"
    _rewrite(tmp_path / "small.keras", path,
             **{"config.json": '{"a": ' + "[" * depth + "]" * depth + "}"})
    _refused([sys.executable, "-c", LOAD_MODEL, str(path)], path,
             "nests more than 100 levels")


def test_toolkit_models_load_through_the_guarded_reader(tmp_path):
    """The legacy fixtures (GuidedClassifier, FSA, distraction, FAM) and a
    compiled, untrained model (Adam's slots are built on load, not saved)."""
    images = np.load(os.path.join(LEGACY, "images.npy"))
    for name in ("guided", "fsa", "distraction", "fam"):
        model = load_model(os.path.join(LEGACY, f"{name}.keras"))
        np.testing.assert_allclose(model.predict(images, verbose=0),
                                   np.load(os.path.join(LEGACY, f"{name}_predictions.npy")),
                                   rtol=1e-5, atol=1e-6)
    inputs = keras.Input((8,))
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Dense(300)(inputs)))
    model.compile(keras.optimizers.Adam(amsgrad=True), "mse", metrics=["mae"])
    model.save(tmp_path / "compiled.keras")
    assert load_model(tmp_path / "compiled.keras").optimizer.built
    tiny_convnet((32, 32, 3)).save_weights(tmp_path / "tiny.weights.h5")
    assert check_weights_file(tmp_path / "tiny.weights.h5") > 0
