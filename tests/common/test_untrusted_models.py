"""Hostile or broken Keras files: a ``.keras`` whose Lambda layer carries
Python code (refused: Keras ``safe_mode`` stays on), a ``.keras`` zip with a
broken config, a ``.weights.h5`` of another architecture. Each is one line
naming the file, and no code of the file runs."""

import json
import zipfile

import cv2
import keras
import numpy as np
import pytest

from common.backbones import build_backbone
from common.backbones.tiny import tiny_convnet
from common.explain import main as explain
from common.saving import load_model


def _lambda_model(path, marker):
    """A .keras file whose Lambda creates ``marker`` when it is called."""
    payload = lambda x, m=str(marker): (open(m, "w").close(), x)[1]  # noqa: E731
    inputs = keras.Input((8, 8, 3))
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(
        keras.layers.Lambda(payload)(inputs)))
    keras.Model(inputs, outputs).save(path)
    marker.unlink()  # it ran while the model was built here


def _one_line(message, path):
    assert str(path) in message and "\n" not in message, message


def test_a_lambda_with_python_code_is_refused(tmp_path):
    path, marker = tmp_path / "evil.keras", tmp_path / "ran"
    _lambda_model(path, marker)
    with pytest.raises(ValueError) as error:
        load_model(path)
    _one_line(str(error.value), path)
    assert "safe_mode" in str(error.value) and not marker.exists()


def _image(tmp_path):
    path = tmp_path / "image.png"
    cv2.imwrite(str(path), np.zeros((8, 8, 3), np.uint8))
    return str(path)


def _cli_error(capsys, argv):
    with pytest.raises(SystemExit) as stop:
        explain(argv)
    lines = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(lines) == 1, lines
    return lines[0]


def test_attention_explain_refuses_the_lambda_in_one_line(tmp_path, capsys):
    path, marker = tmp_path / "evil.keras", tmp_path / "ran"
    _lambda_model(path, marker)
    line = _cli_error(capsys, ["--model", str(path), "--out", str(tmp_path / "out"),
                               _image(tmp_path)])
    assert str(path) in line and not marker.exists(), line


@pytest.mark.parametrize("config", [
    {"class_name": "Functional", "config": {"layers": "none"}},
    {"class_name": "Sequential", "module": "keras", "config": {"layers": [{"x": 1}]}},
    {"class_name": "Layer", "module": "common.no_such_module", "config": {}},
    [1, 2]])
def test_a_keras_zip_with_a_broken_config_is_one_line(tmp_path, capsys, config):
    path = tmp_path / "broken.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", json.dumps({"keras_version": keras.__version__}))
        archive.writestr("model.weights.h5", b"")
    with pytest.raises(ValueError) as error:
        load_model(path)
    _one_line(str(error.value), path)
    line = _cli_error(capsys, ["--model", str(path), "--out", str(tmp_path / "out"),
                               _image(tmp_path)])
    assert str(path) in line, line


def test_weights_of_another_architecture_are_one_line(tmp_path):
    path = tmp_path / "wide.weights.h5"
    tiny_convnet((32, 32, 3), width=8).save_weights(path)
    with pytest.raises(ValueError) as error:
        build_backbone("tiny", (32, 32, 3), weights=str(path))
    _one_line(str(error.value), path)
    (tmp_path / "junk.weights.h5").write_bytes(b"not hdf5")
    with pytest.raises(ValueError) as error:
        build_backbone("tiny", (32, 32, 3), weights=str(tmp_path / "junk.weights.h5"))
    _one_line(str(error.value), tmp_path / "junk.weights.h5")
