"""The preprocessing layer that puts each backbone's input convention inside
the model, so every saved model takes float32 RGB in [0, 1]."""

import keras
from keras import ops

# Per-channel constants of keras.applications' "caffe" and "torch" modes.
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)


@keras.saving.register_keras_serializable(package="common")
class BackbonePreprocessing(keras.layers.Layer):
    """Maps [0, 1] RGB to what a backbone was trained on.

    Modes: ``caffe`` (BGR, 0-255, ImageNet mean subtracted: ResNet50, VGG16),
    ``torch`` (ImageNet mean/std: DenseNet121, SqueezeNet), ``tf``
    ([-1, 1]: Inception, NASNet, MobileNet), ``lite`` ((255x - 127) / 128:
    EfficientNet-Lite), ``none``.
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
