"""FAM as guidance parts: its class maps as a CAM source, and its two
regularisers (sparsity of the foreground, diversity of the parts) as a guide."""

import keras
import tensorflow as tf
from keras import ops

from common.cam_sources import CamSource
from common.guidance import Guide
from fam.losses import diversity_loss, sparsity_loss


def fam_head(network, features, training=True):
    """(foreground M, part maps A, part features p) from the backbone feature
    map, re-applying the network's cheap head layers (shared weights)."""
    foreground = network.get_layer("foreground")(features, training=training)
    attended = features * ops.cast(foreground, features.dtype)
    parts = network.get_layer("parts")(attended, training=training)
    return foreground, parts, network.get_layer("part_features")(features, parts)


class FamMaps(CamSource):
    """FAM's own class maps, which decompose its logits:
    ``CAM_n(h, w) = sum_k t_k A_k(h, w) (W_n . X(h, w)) + b_n``, whose spatial
    mean is logit n (the classifier sees ``o = sum_k t_k p_k`` with
    ``p_k = mean_hw X * A_k``)."""

    description = "FAM's part-weighted maps"

    def __init__(self, network, feature_layer):
        super().__init__(feature_layer)
        self.network = network

    def cams(self, features):
        net = self.network
        _, parts, part_features = fam_head(net, features, training=False)
        weights = net.get_layer("part_importance").part_weights(part_features)
        classifier = net.get_layer("classifier")
        features = tf.cast(features, tf.float32)
        scale = tf.einsum("bhwk,bk->bhw", tf.cast(parts, tf.float32),
                          tf.cast(weights[..., 0], tf.float32))
        per_position = tf.einsum("bhwc,cn->bhwn", features,
                                 tf.cast(classifier.kernel, tf.float32))
        return scale[..., None] * per_position + tf.cast(classifier.bias, tf.float32)


def find_fam_maps(network):
    """``FamMaps`` of a network built by ``fam.model.build_fam_network``
    (known by its head's layer names), else None: the ``cam`` map source of
    ``attention-evaluate`` on FAM models."""
    from common.keras_compat import producing_layer
    names = {layer.name for layer in getattr(network, "layers", ())}
    if not {"foreground", "parts", "part_features", "part_importance",
            "classifier"} <= names:
        return None
    features = producing_layer(network.get_layer("foreground").input)
    return FamMaps(network, features)


@keras.saving.register_keras_serializable(package="fam")
class FamRegularisers(Guide):
    """``spa_loss`` (lambda_spa * sparsity of the foreground map) and
    ``div_loss`` (lambda_div * diversity of the part features); needs a FAM
    network (layers ``foreground``, ``parts``, ``part_features``)."""

    reads = ()

    def __init__(self, lambda_spa=0.04, lambda_div=0.01):
        self.lambda_spa, self.lambda_div = float(lambda_spa), float(lambda_div)

    def attach(self, model):
        names = {layer.name for layer in model.view.layers}
        missing = {"foreground", "parts", "part_features"} - names
        if missing:
            raise ValueError(f"FamRegularisers: model '{model.network.name}' is not a FAM "
                             f"network (no layers {sorted(missing)})")
        self.network = model.view

    def term_names(self):
        return tuple(n for n, w in (("spa_loss", self.lambda_spa),
                                    ("div_loss", self.lambda_div)) if w)

    def terms(self, step):
        names = self.term_names()
        if not names:
            return {}
        foreground, _, part_features = fam_head(self.network, step.features)
        terms = {"spa_loss": self.lambda_spa * sparsity_loss(foreground),
                 "div_loss": self.lambda_div * diversity_loss(part_features)}
        return {name: terms[name] for name in names}

    def get_config(self):
        return {"lambda_spa": self.lambda_spa, "lambda_div": self.lambda_div}
