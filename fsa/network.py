"""The FSA paper's classifier: SqueezeNet v1.1 with torchvision's head, whose
1x1 conv layer ``cam`` gives the class activation maps."""

import keras

from common.backbones import build_backbone


def conv_cam_head(inputs, features, num_classes, name):
    """1x1 conv CAM layer -> ReLU -> GAP -> softmax on top of ``features``
    (SqueezeNet's classifier). The pre-activation CAMs are the output of the
    layer named ``cam``."""
    x = keras.layers.Conv2D(num_classes, 1, name="cam",
                            kernel_initializer=keras.initializers.RandomNormal(0.0, 0.01))(
        features)
    x = keras.layers.ReLU(name="cam_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Activation("softmax", dtype="float32", name="softmax")(x)
    return keras.Model(inputs, outputs, name=name)


def build_cam_network(backbone, num_classes, dropout=0.5, name=None):
    """backbone -> dropout -> ``conv_cam_head``: the FSA network on any
    registry backbone."""
    inputs = keras.Input(backbone.input_shape[1:], name="image")
    x = keras.layers.Dropout(dropout, name="dropout")(backbone(inputs))
    return conv_cam_head(inputs, x, num_classes, name or f"fsa_{backbone.name}")


def build_squeezenet(num_classes, input_shape=(224, 224, 3), weights=None, dropout=0.5):
    """The SqueezeNet v1.1 classifier: features -> dropout -> 1x1 conv to the
    classes (kernel N(0, 0.01)) -> ReLU -> global average pooling -> softmax.
    ``weights``: None or a local weights file of the feature extractor."""
    backbone = build_backbone("squeezenet1_1", input_shape, weights)
    return build_cam_network(backbone, num_classes, dropout, name="squeezenet1_1")
