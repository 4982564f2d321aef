"""SqueezeNet v1.1 with torchvision's weights, read without PyTorch from a
file this test writes in PyTorch's zip layout (archive/data.pkl +
archive/data/N, torchvision's key names) from known arrays."""

import collections
import sys

import numpy as np
import pytest

from common.backbones import build_backbone
from common.backbones import squeezenet
from common.backbones.torch_pickle import load_state
from tests.common.torch_files import write_torch_zip

# torchvision squeezenet1_1: features.N -> (in, squeeze, expand1x1, expand3x3)
FIRES = {3: (64, 16, 64, 64), 4: (128, 16, 64, 64), 6: (128, 32, 128, 128),
         7: (256, 32, 128, 128), 9: (256, 48, 192, 192), 10: (384, 48, 192, 192),
         11: (384, 64, 256, 256), 12: (512, 64, 256, 256)}


def torchvision_state(seed=0):
    rng = np.random.default_rng(seed)
    state = collections.OrderedDict()

    def conv(name, out, inp, k):
        state[f"{name}.weight"] = rng.normal(0, 0.1, (out, inp, k, k)).astype("float32")
        state[f"{name}.bias"] = rng.normal(0, 0.1, out).astype("float32")

    conv("features.0", 64, 3, 3)
    for index, (inp, s, e1, e3) in FIRES.items():
        conv(f"features.{index}.squeeze", s, inp, 1)
        conv(f"features.{index}.expand1x1", e1, s, 1)
        conv(f"features.{index}.expand3x3", e3, s, 3)
    conv("classifier.1", 1000, 512, 1)
    return state


def test_zip_file_round_trip_into_the_keras_model(tmp_path):
    state = torchvision_state()
    path = tmp_path / "squeezenet1_1.pth"
    write_torch_zip(path, state)
    assert "torch" not in sys.modules
    loaded = load_state(str(path))
    assert list(loaded) == list(state)
    for name in state:
        np.testing.assert_array_equal(loaded[name], state[name])
    backbone = build_backbone("squeezenet1_1", (64, 64, 3), weights=str(path))
    features = backbone.layers[-1]
    kernel, bias = features.get_layer("conv1").get_weights()
    np.testing.assert_array_equal(kernel, state["features.0.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(bias, state["features.0.bias"])
    kernel, _ = features.get_layer("fire9_expand3x3").get_weights()
    np.testing.assert_array_equal(kernel, state["features.12.expand3x3.weight"]
                                  .transpose(2, 3, 1, 0))
    # The first conv on a preprocessed image, in NumPy: ReLU(W * x + b), 3x3/2 valid.
    image = np.random.default_rng(1).random((1, 64, 64, 3)).astype("float32")
    x = (image[0] - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    w, b = state["features.0.weight"], state["features.0.bias"]
    patches = np.stack([x[i:i + 3, j:j + 3] for i in range(0, 62, 2)
                        for j in range(0, 62, 2)])  # (31 * 31, 3, 3, 3)
    expected = np.maximum(np.einsum("phwc,ochw->po", patches, w) + b, 0).reshape(31, 31, 64)
    import keras
    tap = keras.Model(features.input, features.get_layer("conv1").output)
    got = tap(backbone.get_layer("preprocess")(image))[0].numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_imagenet_without_the_internet_says_which_file_to_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTENTION_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setattr(squeezenet, "TORCHVISION_URL",
                        "http://127.0.0.1:9/squeezenet1_1-b8a52dc0.pth")  # nothing listens
    with pytest.raises(FileNotFoundError) as error:
        build_backbone("squeezenet1_1", (64, 64, 3), weights="imagenet")
    message = str(error.value)
    assert "127.0.0.1:9/squeezenet1_1-b8a52dc0.pth" in message
    assert str(tmp_path / "squeezenet1_1-b8a52dc0.pth") in message


def test_a_cached_file_that_is_not_torchvisions_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTENTION_WEIGHTS_DIR", str(tmp_path))
    write_torch_zip(tmp_path / "squeezenet1_1-b8a52dc0.pth", torchvision_state())
    with pytest.raises(ValueError, match="SHA-256 does not start with b8a52dc0"):
        build_backbone("squeezenet1_1", (64, 64, 3), weights="imagenet")
