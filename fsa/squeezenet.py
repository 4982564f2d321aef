"""SqueezeNet v1.1 (Iandola et al.; the torchvision layout) in Keras."""

import keras

from common.backbones import BackbonePreprocessing, register_backbone

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
    e3 = keras.layers.Conv2D(expand3, 3, padding="same", activation="relu", kernel_initializer=INIT,
                             name=f"{name}_expand3x3")(s)
    return keras.layers.Concatenate(name=f"{name}_concat")([e1, e3])


def squeezenet_features(input_shape, weights=None):
    """SqueezeNet v1.1 up to the last Fire module (512 channels, 13x13 at
    224 px). Preprocessing (ImageNet mean/std, as torchvision) is inside.
    ``weights``: None or a local ``.weights.h5`` of this model."""
    inputs = keras.Input(input_shape, name="image")
    x = BackbonePreprocessing("torch", name="preprocess")(inputs)
    x = keras.layers.Conv2D(64, 3, strides=2, activation="relu", kernel_initializer=INIT,
                            name="conv1")(x)
    x = keras.layers.MaxPooling2D(3, 2, name="pool1")(x)
    pools, fires = 1, 0
    for spec in V1_1:
        if spec is None:
            pools += 1
            x = keras.layers.MaxPooling2D(3, 2, name=f"pool{pools}")(x)
        else:
            fires += 1
            x = fire(x, *spec, name=f"fire{fires + 1}")
    model = keras.Model(inputs, x, name="squeezenet1_1_features")
    if weights is not None:
        model.load_weights(weights)
    return model


def build_squeezenet(num_classes, input_shape=(224, 224, 3), weights=None, dropout=0.5):
    """The SqueezeNet v1.1 classifier: features -> dropout -> 1x1 conv to the
    classes (the CAM layer ``cam``, kernel N(0, 0.01)) -> ReLU -> global
    average pooling -> softmax. The pre-activation CAMs are the output of
    the layer named ``cam``."""
    features = squeezenet_features(input_shape, weights)
    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.Dropout(dropout, name="dropout")(features(inputs))
    return cam_head(inputs, x, num_classes, name="squeezenet1_1")


def cam_head(inputs, features, num_classes, name):
    """1x1 conv CAM layer -> ReLU -> GAP -> softmax on top of ``features``."""
    x = keras.layers.Conv2D(num_classes, 1, name="cam",
                            kernel_initializer=keras.initializers.RandomNormal(0.0, 0.01))(
        features)
    x = keras.layers.ReLU(name="cam_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Activation("softmax", dtype="float32", name="softmax")(x)
    return keras.Model(inputs, outputs, name=name)


def _registry_builder(input_shape, weights):
    if weights == "imagenet":
        raise ValueError("squeezenet1_1: keras.applications has no ImageNet weights for "
                         "SqueezeNet; pass a local .weights.h5 file")
    return squeezenet_features(input_shape, weights)


# SqueezeNet carries its own preprocessing layer, so the registry adds none.
register_backbone("squeezenet1_1", _registry_builder, "none")
