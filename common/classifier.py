"""The plain CAM classifier (backbone -> GAP -> Dense) and ``GuidedClassifier``,
the training wrapper every method builds on: a functional ``network`` plus
extra losses computed in ``train_step`` from its feature map and CAMs."""

import keras
import tensorflow as tf

from common.cam import class_activation_maps, find_layer, tap_model
from common.keras_compat import DistributedBuildFix, producing_layer, reducible_logs
from common.losses import hnc_sum_and_count


def build_cam_classifier(backbone, num_classes, multi_label=False, dropout=0.0,
                         name="cam_classifier"):
    """Functional classifier: backbone -> global average pooling (``gap``) ->
    Dense (softmax, or sigmoid for multi-label) named ``classifier``, whose
    kernel gives the class activation maps."""
    inputs = keras.Input(backbone.input_shape[1:], name="image")
    x = keras.layers.GlobalAveragePooling2D(name="gap")(backbone(inputs))
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(num_classes, name="classifier", dtype="float32",
                                 activation="sigmoid" if multi_label else "softmax")(x)
    return keras.Model(inputs, outputs, name=name)


def gap_dense_head(network, feature_layer):
    """The Dense layer of a ``feature_layer -> GAP [-> Dropout] -> Dense``
    head (whose CAMs decompose the logits), or None if ``network`` ends
    otherwise."""
    head = producing_layer(network.outputs[0])
    if not isinstance(head, keras.layers.Dense):
        return None
    below = producing_layer(head.input)
    if isinstance(below, keras.layers.Dropout):
        below = producing_layer(below.input)
    if not isinstance(below, keras.layers.GlobalAveragePooling2D):
        return None
    return head if producing_layer(below.input) is feature_layer else None


def _as_sum_and_count(value, batch):
    """A term as (sum, count): a scalar is a mean over the replica's images."""
    if isinstance(value, (tuple, list)):
        total, count = value
        return tf.cast(total, tf.float32), tf.cast(count, tf.float32)
    value = tf.cast(value, tf.float32)
    return value * batch, batch


def _sum_over_replicas(value):
    """``value`` summed over the replicas in sync (itself without replicas)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)


@keras.saving.register_keras_serializable(package="common")
class GuidedClassifier(DistributedBuildFix, keras.Model):
    """Trains a functional classifier ``network`` with CAM-based extra losses.

    ``train_step`` runs the network once through a tapped copy that also
    returns the feature map of ``feature_layer`` (default: the last 4-D
    layer, usually the backbone), adds the extra losses to the compiled
    loss, and tracks each extra term and statistic as a metric (progress
    bar, history). ``network`` is the deployable model.

    Hooks a subclass overrides (pytorch-grad-cam style: the base owns the
    machinery, a method overrides small pieces):

    - ``prepare_batch(x, y) -> (x, statistics)``: changes the training inputs
      before the step (e.g. occlusion); runs in ``train_step`` only.
    - ``cams(features) -> (B, h, w, K)`` float32 CAM logits whose spatial
      mean is the class logit; the base class computes them for a
      ``GAP -> Dense`` head and raises ``NotImplementedError`` otherwise.
    - ``extra_losses(x, y, features, y_pred) -> {name: term}``: unweighted
      terms; each is multiplied by ``extra_loss_weights[name]`` and added to
      the loss. A subclass declares its terms by adding their weights to
      ``extra_loss_weights`` in ``__init__``: the trackers are made from its
      keys, and a term whose weight is 0 is neither computed nor shown.
    - ``statistics(x, y, features, y_pred) -> {name: term}``: values shown,
      not trained on; their names are declared in ``monitored``.

    A *term* is a float32 scalar, the mean over this replica's images, or a
    pair ``(sum, count)`` when its denominator is not the number of images.
    Hooks run inside the traced step on one replica's share of the global
    batch (``tf.distribute``): use ``tf`` ops and ``tf.random`` (a Python
    ``random`` call is frozen at trace time), create no variables, and
    compute in float32 (cast mixed-precision features first). The base
    class turns every term into its mean over the *global* batch, so loss,
    gradients and trackers equal a single-replica step on the same batch,
    also when the last batch splits unevenly over the replicas.

    Args:
        network: functional classifier.
        feature_layer: name of the layer whose output feeds the CAMs.
        hnc_weight, hnc_k, hnc_variant, hnc_temperature: the homogeneous
            negative CAM loss (``common.losses``) on ``cams``; off at 0.
    """

    monitored = ()

    def __init__(self, network, feature_layer=None, hnc_weight=0.0, hnc_k=None,
                 hnc_variant="mse", hnc_temperature=1.0, **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.feature_layer = feature_layer
        self.hnc_weight = float(hnc_weight)
        self.hnc_k = None if hnc_k is None else int(hnc_k)
        self.hnc_variant = hnc_variant
        self.hnc_temperature = float(hnc_temperature)
        self._tapped = [tap_model(network, find_layer(network, feature_layer))]
        self.extra_loss_weights = {"hnc_loss": self.hnc_weight}
        self._trackers = None
        self.built = True  # the network is built; saving weights needs no call

    def _check_cams(self):
        if self.hnc_weight and not self.has_cams():
            raise ValueError(f"--hnc-weight: model '{self.network.name}' has no class "
                             "activation maps (no GAP -> Dense head and no cams() hook); "
                             "the HNC loss needs them")

    def has_cams(self):
        """Whether ``cams`` decomposes this model's logits."""
        return type(self).cams is not GuidedClassifier.cams or self._head() is not None

    def _head(self):
        return gap_dense_head(self.network, find_layer(self.network, self.feature_layer))

    @property
    def trackers(self):
        """name -> keras.metrics.Mean of each active extra term and statistic,
        made once from ``extra_loss_weights`` and ``monitored``."""
        if self._trackers is None:
            self._check_cams()
            names = [n for n, w in self.extra_loss_weights.items() if w] + list(self.monitored)
            self._trackers = [{name: keras.metrics.Mean(name=name) for name in names}]
        return self._trackers[0]

    @property
    def tapped(self):
        """images -> [feature map, class probabilities], sharing weights."""
        return self._tapped[0]

    @property
    def metrics(self):
        return super().metrics + list(self.trackers.values())

    def call(self, inputs, training=False):
        return self.network(inputs, training=training)

    # ---- hooks -------------------------------------------------------------

    def prepare_batch(self, x, y):
        return x, {}

    def cams(self, features):
        head = self._head()
        if head is None:
            raise NotImplementedError(f"model '{self.network.name}' has no GAP -> Dense "
                                      "head; its class defines no cams()")
        return class_activation_maps(tf.cast(features, tf.float32), head.kernel, head.bias)

    def extra_losses(self, x, y, features, y_pred):
        if not self.hnc_weight:
            return {}
        return {"hnc_loss": hnc_sum_and_count(self.cams(features), y, self.hnc_k,
                                              self.hnc_variant, self.hnc_temperature)}

    def statistics(self, x, y, features, y_pred):
        return {}

    # ---- machinery ---------------------------------------------------------

    def _track(self, terms, batch, where):
        """Global-batch sums of ``terms`` per replica, and tracker updates."""
        shares = {}
        for name in terms:
            if name not in self.trackers:
                raise KeyError(f"{type(self).__name__}.{where} returned '{name}', which "
                               "is neither in extra_loss_weights nor in monitored")
        for name, value in terms.items():
            total, count = _as_sum_and_count(value, batch)
            # This replica's share of the global mean: summed over the
            # replicas (gradients are), it is sum(all) / count(all).
            shares[name] = tf.math.divide_no_nan(total, _sum_over_replicas(count))
            self.trackers[name].update_state(tf.math.divide_no_nan(total, count),
                                             sample_weight=count)
        return shares

    def _loss(self, x, y, sample_weight, training, statistics=None):
        """Compiled loss plus extra terms, as this replica's share of the
        global-batch mean (what the optimizer sums over replicas), and the
        predictions. Updates the loss tracker and the extra trackers."""
        features, y_pred = self.tapped(x, training=training)
        compiled = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                     training=training)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        batch = tf.cast(tf.shape(tf.nest.flatten(x)[0])[0], tf.float32)
        # Keras divides this replica's mean by the number of replicas, which
        # is the global mean only when every replica holds as many images.
        mean = tf.cast(compiled, tf.float32) * replicas
        loss = mean * batch / _sum_over_replicas(batch)
        terms = self.extra_losses(x, y, features, y_pred)
        missing = [n for n, w in self.extra_loss_weights.items() if w and n not in terms]
        if missing:
            raise KeyError(f"{type(self).__name__}.extra_losses did not return {missing} "
                           "although their weights are not zero")
        weighted = {name: self._weighted(terms[name], self.extra_loss_weights[name])
                    for name, weight in self.extra_loss_weights.items() if weight}
        for share in self._track(weighted, batch, "extra_losses").values():
            loss = loss + share
            mean = mean + share * _sum_over_replicas(batch) / batch
        self._track({**(statistics or {}), **self.statistics(x, y, features, y_pred)},
                    batch, "statistics")
        self._loss_metric().update_state(mean, sample_weight=batch)
        return loss, y_pred

    @staticmethod
    def _weighted(term, weight):
        if isinstance(term, (tuple, list)):
            return (tf.cast(term[0], tf.float32) * weight, term[1])
        return tf.cast(term, tf.float32) * weight

    def _loss_metric(self):
        """The compiled "loss" metric (the Keras guide's way to reach it)."""
        return next(m for m in super().metrics if m.name == "loss")

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        x, statistics = self.prepare_batch(x, y)
        with tf.GradientTape() as tape:
            loss, y_pred = self._loss(x, y, sample_weight, training=True,
                                      statistics=statistics)
            # The optimizer sums the replicas' gradients, and the replicas'
            # losses sum to the global-batch mean.
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        return reducible_logs(self.compute_metrics(x, y, y_pred, sample_weight=sample_weight))

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        _, y_pred = self._loss(x, y, sample_weight, training=False)
        return reducible_logs(self.compute_metrics(x, y, y_pred, sample_weight=sample_weight))

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
