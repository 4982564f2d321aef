"""Backbone registry: preprocessing against keras.applications, local weight
files, clear errors."""

import keras
import numpy as np
import pytest

from common.backbones import BACKBONES, BackbonePreprocessing, build_backbone


@pytest.mark.parametrize("mode, module", [("caffe", keras.applications.resnet50),
                                          ("caffe", keras.applications.vgg16),
                                          ("torch", keras.applications.densenet),
                                          ("tf", keras.applications.inception_v3),
                                          ("tf", keras.applications.mobilenet)])
def test_preprocessing_matches_keras_applications(mode, module):
    x = np.random.rand(2, 5, 5, 3).astype("float32")
    expected = module.preprocess_input(x * 255.0)
    np.testing.assert_allclose(BackbonePreprocessing(mode)(x), expected, rtol=1e-5, atol=1e-4)


def test_lite_preprocessing_is_efficientnet_lite_scaling():
    x = np.random.rand(1, 3, 3, 3).astype("float32")
    np.testing.assert_allclose(BackbonePreprocessing("lite")(x), (x * 255 - 127) / 128,
                               rtol=1e-6, atol=1e-5)


# name -> (channels of the feature map, the reference preprocessing of
# [0, 255] images: keras.applications' own, or the convention the weights
# were trained with).
_TORCH = lambda x: (x / 255.0 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]  # noqa: E731
REFERENCE = {
    "resnet50": (2048, keras.applications.resnet50.preprocess_input),
    "vgg16": (512, keras.applications.vgg16.preprocess_input),
    "densenet121": (1024, keras.applications.densenet.preprocess_input),
    "inception_v3": (2048, keras.applications.inception_v3.preprocess_input),
    "nasnet_mobile": (1056, keras.applications.nasnet.preprocess_input),
    "mobilenet": (1024, keras.applications.mobilenet.preprocess_input),
    "tiny": (64, lambda x: x / 255.0),
    "efficientnet_lite0": (1280, lambda x: (x - 127.0) / 128.0),
    "squeezenet1_1": (512, _TORCH),
}


def test_reference_table_covers_the_registry():
    assert sorted(REFERENCE) == sorted(BACKBONES)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_every_backbone_is_its_network_on_the_reference_preprocessing(name):
    """build_backbone(name)(x) equals the builder's network applied to the
    reference preprocessing of 255 * x, computed here independently."""
    size = 75 if name == "inception_v3" else 32
    backbone = build_backbone(name, (size, size, 3))
    x = np.random.rand(2, size, size, 3).astype("float32")
    network = backbone.layers[-1]
    channels, preprocess = REFERENCE[name]
    expected = network(np.asarray(preprocess(x.astype("float64") * 255.0), "float32"))
    got = backbone(x)
    assert got.shape[-1] == channels
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["tiny", "mobilenet"])
def test_local_weights_file_is_loaded(tmp_path, name):
    source = build_backbone(name, (32, 32, 3))
    path = tmp_path / "backbone.weights.h5"
    source.layers[-1].save_weights(path)
    loaded = build_backbone(name, (32, 32, 3), weights=str(path))
    x = np.random.rand(2, 32, 32, 3).astype("float32")
    np.testing.assert_allclose(loaded(x), source(x), rtol=1e-5, atol=1e-5)


def test_bad_names_and_paths_raise_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown backbone 'resnet5'.*resnet50"):
        build_backbone("resnet5", (32, 32, 3))
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        build_backbone("tiny", (32, 32, 3), weights=str(tmp_path / "missing.h5"))
    garbage = tmp_path / "garbage.weights.h5"
    garbage.write_bytes(b"not an hdf5 file")
    with pytest.raises(ValueError, match="garbage.weights.h5"):
        build_backbone("mobilenet", (32, 32, 3), weights=str(garbage))
