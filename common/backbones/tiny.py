"""A small conv net for tests and demos on a CPU."""

import keras

from common.keras_compat import load_weights


def tiny_convnet(input_shape, width=16):
    """Three conv-BN-ReLU stages, stride 4 in all. Its BatchNormalization is
    synchronized across replicas (global-batch statistics under
    MirroredStrategy) and uses momentum 0.9 so the moving statistics settle
    within a short demo."""
    inputs = keras.Input(input_shape)
    x = inputs
    for i, (filters, stride) in enumerate(((width, 1), (2 * width, 2), (4 * width, 2))):
        x = keras.layers.Conv2D(filters, 3, strides=stride, padding="same",
                                use_bias=False, name=f"conv{i + 1}")(x)
        x = keras.layers.BatchNormalization(momentum=0.9, synchronized=True,
                                            name=f"bn{i + 1}")(x)
        x = keras.layers.ReLU(name=f"relu{i + 1}")(x)
    return keras.Model(inputs, x, name="tiny")


def build_tiny(input_shape, weights=None):
    """Registry builder: random weights or a ``.weights.h5`` it saved."""
    if weights == "imagenet":
        raise ValueError("backbone 'tiny' has no ImageNet weights; use weights=None or a "
                         "local .weights.h5 file")
    model = tiny_convnet(input_shape)
    if weights is not None:
        load_weights(model, weights)
    return model
