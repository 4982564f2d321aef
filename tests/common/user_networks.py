"""A user's own classifiers, as the guide tests and ``--network`` use them:
each ``f(input_shape, num_classes)`` (the ``--network`` builder contract)."""

import keras


def sequential(input_shape, num_classes):
    """keras.Sequential, GAP -> Dense softmax head, no BatchNormalization."""
    return keras.Sequential([
        keras.Input(input_shape),
        keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
        keras.layers.Conv2D(12, 3, strides=2, padding="same", activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(num_classes, activation="softmax", dtype="float32"),
    ], name="user_sequential")


def trailing_softmax(input_shape, num_classes):
    """Functional, Dense logits then a separate Softmax layer."""
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(12, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, keras.layers.Softmax(dtype="float32")(x),
                       name="user_trailing_softmax")


def mobilenet_logits(input_shape, num_classes):
    """keras.applications MobileNetV3Small (no weights, its own [0, 255]
    preprocessing) nested in a functional classifier with a logits head."""
    backbone = keras.applications.MobileNetV3Small(
        input_shape=input_shape, include_top=False, weights=None, minimalistic=True,
        include_preprocessing=True)
    inputs = keras.Input(input_shape)
    x = keras.layers.GlobalAveragePooling2D()(backbone(inputs))
    outputs = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name="user_mobilenet_logits")


def small_logits(input_shape, num_classes):
    """Functional, GAP -> Dense without activation: returns logits."""
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes, dtype="float32")(x),
                       name="user_logits")
