"""Foreground Activation Maps (Meng, Zhang, Tian, Zhang, Wu, ICCV 2021)."""

import keras
from keras import ops

from common.classifier import GuidedClassifier
from common.keras_compat import producing_layer
from common.layers import MemoryRead, softmax32
from fam.guide import FamMaps, FamRegularisers


@keras.saving.register_keras_serializable(package="fam")
class PartPooling(keras.layers.Layer):
    """Part features ``p_k = mean_hw (X * A_k)``: (B, h, w, C) features and
    (B, h, w, K) part maps -> (B, K, C)."""

    def call(self, features, parts):
        return ops.einsum("bhwc,bhwk->bkc", features, parts) / ops.cast(
            ops.shape(features)[1] * ops.shape(features)[2], features.dtype)

    def compute_output_shape(self, features_shape, parts_shape):
        return (features_shape[0], parts_shape[-1], features_shape[-1])


@keras.saving.register_keras_serializable(package="fam")
class PartImportance(keras.layers.Layer):
    """Object feature ``o = sum_k t_k p_k`` with ``t = softmax_k(Dense(1)(p_k))``,
    or the plain mean over parts when ``learned`` is False (ablation)."""

    def __init__(self, learned=True, **kwargs):
        super().__init__(**kwargs)
        self.learned = bool(learned)

    def build(self, input_shape):
        self.score = keras.layers.Dense(1, name="score", dtype=self.dtype_policy)
        self.score.build(input_shape)

    def part_weights(self, parts):
        """(B, K, 1) weights t of the K part features (B, K, C)."""
        if not self.learned:
            return ops.ones_like(parts[..., :1]) / ops.cast(ops.shape(parts)[1], parts.dtype)
        return softmax32(self.score(parts), axis=1)

    def call(self, parts):
        return ops.sum(self.part_weights(parts) * parts, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "learned": self.learned}


def build_fam_network(backbone, num_classes, num_templates=3, num_parts=5, memory=True,
                      importance=True):
    """Functional FAM: images -> class probabilities. Layers ``foreground``
    (M, (B, h, w, 1)) and ``parts`` (A, (B, h, w, K)) hold the maps."""
    image = keras.Input(backbone.input_shape[1:], name="image")
    x = backbone(image)
    if memory:
        foreground = MemoryRead(num_slots=num_templates, name="foreground")(x)
    else:  # ablation "without memory": a plain 1x1 conv
        foreground = keras.layers.Conv2D(1, 1, activation="sigmoid", name="foreground")(x)
    attended = keras.layers.Multiply(name="object_features")([x, foreground])
    parts = keras.layers.Conv2D(num_parts, 1, activation="sigmoid", name="parts")(attended)
    part_features = PartPooling(name="part_features")(x, parts)
    obj = PartImportance(importance, name="part_importance")(part_features)
    outputs = keras.layers.Dense(num_classes, activation="softmax", dtype="float32",
                                 name="classifier")(obj)
    return keras.Model(image, outputs, name="fam")


def maps_model(network):
    """Companion inference model: images -> {"probabilities", "foreground",
    "parts"} (maps at feature resolution), sharing the network's weights."""
    return keras.Model(network.input, {"probabilities": network.output,
                                       "foreground": network.get_layer("foreground").output,
                                       "parts": network.get_layer("parts").output})


@keras.saving.register_keras_serializable(package="fam")
class FamModel(GuidedClassifier):
    """Trains a FAM network with ``CE + lambda_spa L_spa + lambda_div L_div``
    (a ``FamRegularisers`` guide); both terms show in the progress bar and
    history. The step taps the backbone's feature map once; the losses
    re-apply the cheap head layers to it. ``guides`` (kept and saved) come
    after it; their CAMs (HNC's, ...) are FAM's own class maps
    (``fam.guide.FamMaps``)."""

    def __init__(self, network, lambda_spa=0.04, lambda_div=0.01, guides=(), **kwargs):
        kwargs.setdefault("feature_layer", producing_layer(
            network.get_layer("foreground").input).name)
        source = FamMaps(network, network.get_layer(kwargs["feature_layer"]))
        super().__init__(network, guides=[FamRegularisers(lambda_spa, lambda_div), *guides],
                         cam_source=source, **kwargs)
        self.lambda_spa, self.lambda_div = float(lambda_spa), float(lambda_div)

    def cams(self, features):
        return self.cam_source.cams(features)

    def get_config(self):
        return {**self.base_config(), "lambda_spa": self.lambda_spa,
                "lambda_div": self.lambda_div, "guides": self.other_guides_config()}


def build_fam(backbone, num_classes, num_templates=3, num_parts=5, lambda_spa=0.04,
              lambda_div=0.01, memory=True, importance=True, **kwargs):
    """FAM training model; ``model.network`` is the deployable classifier and
    ``maps_model(model.network)`` gives its foreground and part maps."""
    network = build_fam_network(backbone, num_classes, num_templates, num_parts, memory,
                                importance)
    return FamModel(network, lambda_spa=lambda_spa, lambda_div=lambda_div, **kwargs)
