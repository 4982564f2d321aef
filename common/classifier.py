"""The plain CAM classifier (backbone -> GAP -> Dense) and the training
wrapper every method builds on: a functional ``network`` plus extra losses
computed in ``train_step`` from its feature map and class activation maps."""

import keras
import tensorflow as tf

from common.cam import _find_layer, class_activation_maps, tap_model
from common.distribute import scale_for_replicas
from common.layers import PACKAGE
from common.losses import homogeneous_negative_cam_loss


def build_cam_classifier(backbone, num_classes, multi_label=False, dropout=0.0,
                         name="cam_classifier"):
    """Functional classifier: backbone -> global average pooling -> Dense
    (softmax, or sigmoid for multi-label), named ``classifier`` so its kernel
    gives the class activation maps."""
    inputs = keras.Input(backbone.input_shape[1:], name="image")
    x = keras.layers.GlobalAveragePooling2D(name="gap")(backbone(inputs))
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(num_classes, name="classifier", dtype="float32",
                                 activation="sigmoid" if multi_label else "softmax")(x)
    return keras.Model(inputs, outputs, name=name)


@keras.saving.register_keras_serializable(package=PACKAGE)
class GuidedClassifier(keras.Model):
    """Trains a functional classifier ``network`` with CAM-based extra losses.

    ``train_step`` runs the network once through a tapped copy that also
    returns the feature map of ``feature_layer`` (default: the last 4-D
    layer, usually the backbone), adds ``extra_losses`` to the compiled loss
    and tracks each term as a metric. Subclasses override ``prepare_batch``
    (change the inputs before the step, e.g. occlusion), ``extra_losses``
    and ``cams``. ``network`` is the deployable model.

    Args:
        network: functional classifier whose last layer is the Dense head.
        feature_layer: name of the layer whose output feeds the CAMs.
        hnc_weight, hnc_k, hnc_variant, hnc_temperature: the homogeneous
            negative CAM loss (``common.losses``); off when the weight is 0.
    """

    def __init__(self, network, feature_layer=None, hnc_weight=0.0, hnc_k=None,
                 hnc_variant="mse", hnc_temperature=1.0, **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.feature_layer = feature_layer
        self.hnc_weight = float(hnc_weight)
        self.hnc_k = None if hnc_k is None else int(hnc_k)
        self.hnc_variant = hnc_variant
        self.hnc_temperature = float(hnc_temperature)
        self._tapped = [tap_model(network, _find_layer(network, feature_layer))]
        self.trackers = {}
        if self.hnc_weight:
            self.track("hnc_loss")
        self.built = True

    def track(self, *names):
        """Shows these extra terms (keys of ``extra_losses``, or values a
        subclass updates) in the progress bar and history."""
        for name in names:
            self.trackers[name] = keras.metrics.Mean(name=name)

    @property
    def tapped(self):
        """images -> [feature map, class probabilities], sharing weights."""
        return self._tapped[0]

    @property
    def metrics(self):
        return super().metrics + list(self.trackers.values())

    def call(self, inputs, training=False):
        return self.network(inputs, training=training)

    def cams(self, features):
        """(B, h, w, C) CAM logits from the Dense head (bias included)."""
        head = self.network.get_layer("classifier")
        return class_activation_maps(tf.cast(features, tf.float32), head.kernel, head.bias)

    def prepare_batch(self, x, y):
        return x

    def extra_losses(self, x, y, features, y_pred):
        """Dict name -> weighted scalar loss (a mean over this replica's batch)."""
        if not self.hnc_weight:
            return {}
        hnc = homogeneous_negative_cam_loss(self.cams(features), y, self.hnc_k,
                                            self.hnc_variant, self.hnc_temperature)
        return {"hnc_loss": self.hnc_weight * hnc}

    def _loss(self, x, y, sample_weight, training):
        """Compiled loss plus extra terms: (loss scaled for the replicas,
        predictions). Updates the loss and extra-term trackers."""
        features, y_pred = self.tapped(x, training=training)
        loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                 training=training)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        unscaled = loss * tf.cast(replicas, loss.dtype)
        for name, value in self.extra_losses(x, y, features, y_pred).items():
            value = tf.cast(value, loss.dtype)
            self.trackers[name].update_state(value)
            loss = loss + scale_for_replicas(value)
            unscaled = unscaled + value
        batch = tf.shape(tf.nest.flatten(x)[0])[0]
        self._loss_tracker.update_state(unscaled, sample_weight=batch)
        return loss, y_pred

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        x = self.prepare_batch(x, y)
        with tf.GradientTape() as tape:
            loss, y_pred = self._loss(x, y, sample_weight, training=True)
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        _, y_pred = self._loss(x, y, sample_weight, training=False)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(),
                "network": keras.saving.serialize_keras_object(self.network),
                "feature_layer": self.feature_layer, "hnc_weight": self.hnc_weight,
                "hnc_k": self.hnc_k, "hnc_variant": self.hnc_variant,
                "hnc_temperature": self.hnc_temperature}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["network"] = keras.saving.deserialize_keras_object(config["network"])
        return cls(**config)
