"""SqueezeNet v1.1 (Iandola et al.; the torchvision layout) in Keras: the
feature extractor, registered as the backbone ``squeezenet1_1``."""

import keras

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


def build_squeezenet_features(input_shape, weights=None):
    """Registry builder: random weights or a local ``.weights.h5`` of this
    model (keras.applications has no SqueezeNet)."""
    if weights == "imagenet":
        raise ValueError("squeezenet1_1: keras.applications has no ImageNet weights for "
                         "SqueezeNet; pass a local .weights.h5 file")
    model = squeezenet_features(input_shape)
    if weights is not None:
        model.load_weights(weights)
    return model
