"""SqueezeNet v1.1 (Iandola et al.; the torchvision layout) in Keras: the
feature extractor, registered as the backbone ``squeezenet1_1``, with
torchvision's ImageNet weights read from its ``.pth`` file without PyTorch."""

import keras

from common.backbones.downloads import fetch
from common.backbones.torch_pickle import load_state
from common.keras_compat import load_weights

# torchvision's published ImageNet weights (file name: SHA-256 prefix).
TORCHVISION_URL = "https://download.pytorch.org/models/squeezenet1_1-b8a52dc0.pth"
TORCHVISION_FILE = "squeezenet1_1-b8a52dc0.pth"
# torchvision's features.N (a Fire module) -> the Keras fire number.
FIRE_INDEX = {3: 2, 4: 3, 6: 4, 7: 5, 9: 6, 10: 7, 11: 8, 12: 9}

# torchvision initialises SqueezeNet's convs with Kaiming-uniform (He).
INIT = "he_uniform"
# (squeeze, expand1x1, expand3x3) per Fire module, None = 3x3/2 max pooling.
V1_1 = [(16, 64, 64), (16, 64, 64), None, (32, 128, 128), (32, 128, 128), None,
        (48, 192, 192), (48, 192, 192), (64, 256, 256), (64, 256, 256)]


def fire(x, squeeze, expand1, expand3, name):
    """Fire module: 1x1 squeeze, then 1x1 and 3x3 expands concatenated."""
    s = keras.layers.Conv2D(squeeze, 1, activation="relu", kernel_initializer=INIT,
                            name=f"{name}_squeeze")(x)
    e1 = keras.layers.Conv2D(expand1, 1, activation="relu", kernel_initializer=INIT,
                             name=f"{name}_expand1x1")(s)
    e3 = keras.layers.Conv2D(expand3, 3, padding="same", activation="relu",
                             kernel_initializer=INIT, name=f"{name}_expand3x3")(s)
    return keras.layers.Concatenate(name=f"{name}_concat")([e1, e3])


def squeezenet_features(input_shape):
    """SqueezeNet v1.1 up to the last Fire module (512 channels, 13x13 at
    224 px), on inputs preprocessed with the ImageNet mean/std (``torch``)."""
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(64, 3, strides=2, activation="relu", kernel_initializer=INIT,
                            name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(3, 2, name="pool1")(x)
    pools, fires = 1, 0
    for spec in V1_1:
        if spec is None:
            pools += 1
            x = keras.layers.MaxPooling2D(3, 2, name=f"pool{pools}")(x)
        else:
            fires += 1
            x = fire(x, *spec, name=f"fire{fires + 1}")
    return keras.Model(inputs, x, name="squeezenet1_1_features")


def assign_torchvision_state(model, state):
    """Copies torchvision's ``squeezenet1_1`` state dict (``features.*``; the
    ImageNet classifier is not used) into ``squeezenet_features``."""
    conv = lambda w: w.transpose(2, 3, 1, 0)  # (out, in, kh, kw) -> (kh, kw, in, out)  # noqa
    expected = {"features.0.weight"} | {f"features.{i}.{part}.weight" for i in FIRE_INDEX
                                        for part in ("squeeze", "expand1x1", "expand3x3")}
    missing = sorted(expected - set(state))
    if missing:
        raise ValueError(f"not a torchvision squeezenet1_1 state dict: it lacks {missing[:3]}")
    model.get_layer("conv1").set_weights([conv(state["features.0.weight"]),
                                          state["features.0.bias"]])
    for index, number in FIRE_INDEX.items():
        for part in ("squeeze", "expand1x1", "expand3x3"):
            key = f"features.{index}.{part}"
            model.get_layer(f"fire{number}_{part}").set_weights(
                [conv(state[f"{key}.weight"]), state[f"{key}.bias"]])


def build_squeezenet_features(input_shape, weights=None):
    """Registry builder. ``weights``: None, ``"imagenet"`` (torchvision's
    published file, downloaded once into the weights folder), a PyTorch
    ``.pth``/``.pt`` state dict in torchvision's layout (zip or legacy
    format), or a ``.weights.h5`` of this model."""
    model = squeezenet_features(input_shape)
    if weights == "imagenet":
        weights = fetch(TORCHVISION_URL, TORCHVISION_FILE, "b8a52dc0",
                        "weights='imagenet' for squeezenet1_1")
    if weights is None:
        return model
    if str(weights).endswith((".pth", ".pt")):
        assign_torchvision_state(model, load_state(weights))
    else:
        load_weights(model, weights)
    return model
