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


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_every_backbone_maps_unit_images_to_a_feature_map(name):
    size = 75 if name == "inception_v3" else 32
    backbone = build_backbone(name, (size, size, 3))
    out = backbone(np.random.rand(1, size, size, 3).astype("float32"))
    assert len(out.shape) == 4 and out.shape[-1] > 3
    assert backbone.get_layer("preprocess").mode == BACKBONES[name][1]


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
