"""The plain CAM classifier (backbone -> GAP -> Dense) and ``GuidedClassifier``,
which trains any Keras classifier with a list of guides (``common.guidance``)."""

import keras
import tensorflow as tf

from common.cam import find_layer, functional_view, tap_model
from common.cam_sources import describe_heads, find_cam_source, log_probabilities, \
    method_cam_source, output_kind
from common.global_batch import as_sum_and_count, sum_over_replicas
from common.guidance import Step, guides_of_saved_keys, owned_by
from common.guide_checks import check_annotations, check_network, declared_names
from common.keras_compat import DistributedBuildFix, reducible_logs

# Inputs for guides only, never passed to the network: boxes (B, M, 4) and the
# per-pixel annotations ignore / attend (B, H, W) in [0, 1] at image resolution.
GUIDE_INPUTS = ("boxes", "ignore", "attend")


def _last_feature_layer(view):
    """The last layer with a 4-D output, or None (an input layer does not count)."""
    try:
        layer = find_layer(view, None)
    except ValueError:
        return None
    return None if isinstance(layer, keras.layers.InputLayer) else layer


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


@keras.saving.register_keras_serializable(package="common")
class GuidedClassifier(DistributedBuildFix, keras.Model):
    """Trains ``network`` (functional or ``Sequential``, any head) with
    ``guides``: ``fit`` runs the network once through a tapped copy that also
    returns the CAM source's feature map, lets each guide change the batch
    (``prepare``, training only), computes the CAMs once and adds every
    guide's weighted terms to the compiled loss. Terms and statistics show
    in the progress bar and history under the guides' names. Loss, gradients
    and trackers are global-batch means: equal to a single-replica step on
    the same batch, also when the last batch splits unevenly over replicas.
    ``network`` is the deployable model: no guide inside.

    Args:
        network: the classifier (images in [0, 1] -> probabilities or logits).
        guides: ``common.Guide`` objects; their names must not clash.
        feature_layer: layer name for the CAMs / Grad-CAM (default: the
            head's, see ``common.cam_sources``; else the last 4-D layer).
        cam_source: a ``common.cam_sources.CamSource`` for other heads.
    """

    def __init__(self, network, guides=(), feature_layer=None, cam_source=None, **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.feature_layer = feature_layer
        view = functional_view(network)
        check_network(view, network.name)
        wanted = None if feature_layer is None else find_layer(view, feature_layer)
        # an installed package's head (FAM's maps) is found again on loading
        self.cam_source = cam_source or find_cam_source(view, wanted) \
            or method_cam_source(view, wanted)
        layer = wanted or (self.cam_source.feature_layer if self.cam_source else None) \
            or _last_feature_layer(view)
        # Without a 4-D layer (an MLP) only guides that need no features can train it.
        self._views = [view, tap_model(view, layer) if layer is not None else None]
        # each model its own guides: one given to another model before is copied
        self.guides = guides = [owned_by(guide, self) for guide in guides]
        for guide in guides:
            if guide.needs_cams and self.cam_source is None:
                raise ValueError(f"{type(guide).__name__} needs class activation maps, and "
                                 f"model '{network.name}' has no CAM head: expected "
                                 f"{describe_heads()}")
            guide.attach(self)
        self.guide_variables = [v for guide in guides for v in guide.variables()]
        self.term_names, self.statistic_names = declared_names(guides)
        self._trackers = None
        self.built = True  # the network is built; saving weights needs no call

    def guide(self, kind):
        """The first guide that is an instance of ``kind``, or None."""
        return next((g for g in self.guides if isinstance(g, kind)), None)

    def guide_callbacks(self):
        """The callbacks the guides need in ``fit()`` (``Guide.callbacks``):
        ``model.fit(..., callbacks=model.guide_callbacks())``."""
        return [callback for guide in self.guides for callback in guide.callbacks()]

    @property
    def view(self):
        """The network as a functional model (the same layers and weights)."""
        return self._views[0]

    @property
    def tapped(self):
        """network inputs -> [feature map, network output], sharing weights."""
        return self._views[1]

    @property
    def trackers(self):
        """name -> keras.metrics.Mean of each term and statistic."""
        if self._trackers is None:
            names = self.term_names + self.statistic_names
            self._trackers = [{name: keras.metrics.Mean(name=name) for name in names}]
        return self._trackers[0]

    @property
    def metrics(self):
        return super().metrics + list(self.trackers.values())

    # ---- inputs ------------------------------------------------------------

    def split_inputs(self, x):
        """(what the network takes, guide-only inputs such as ``boxes``)."""
        if not isinstance(x, dict):
            return x, {}
        extras = {k: v for k, v in x.items() if k in GUIDE_INPUTS}
        rest = {k: v for k, v in x.items() if k not in GUIDE_INPUTS}
        if len(self.view.inputs) == 1 and len(rest) == 1:
            rest = next(iter(rest.values()))
        return rest, extras

    @staticmethod
    def image_of(x):
        """The (B, H, W, 3) image tensor of inputs ``x``."""
        return x["image"] if isinstance(x, dict) else x

    @staticmethod
    def with_image(x, image):
        return {**x, "image": image} if isinstance(x, dict) else image

    def fit(self, x=None, y=None, *args, **kwargs):
        check_annotations(x)  # arrays in memory; the CLI checks its files
        return super().fit(x, y, *args, **kwargs)

    def call(self, inputs, training=False):
        return self.network(self.split_inputs(inputs)[0], training=training)

    # ---- the step ----------------------------------------------------------

    def step(self, x, y, training=False):
        """The ``Step`` guides see for inputs ``x`` and labels ``y``. Where a
        guide needs input gradients, the forward pass runs inside a tape on
        the image, so they come from this one pass (no second forward pass):
        the gradient of the summed log-probabilities (Ross et al. 2017)."""
        net_x, extras = self.split_inputs(x)
        image = self.image_of(x)
        if not any(getattr(g, "needs_input_gradients", False) for g in self.guides):
            features, y_pred = self._forward(net_x, training)
            return Step(self, net_x, image, y, features, y_pred, extras, training)
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(image)  # the same tensor the network takes in net_x
            features, y_pred = self._forward(net_x, training)
            summed = tf.reduce_sum(log_probabilities(y_pred, self.output_kind))
        gradients = tape.gradient(summed, image)  # recorded by the outer (training) tape
        return Step(self, net_x, image, y, features, y_pred, extras, training,
                    input_gradients=gradients)

    def _forward(self, net_x, training):
        """(features, predictions): the tapped copy's two outputs, or no
        features on a network without a 4-D layer."""
        if self.tapped is None:
            return None, self.view(net_x, training=training)
        return self.tapped(net_x, training=training)

    @property
    def output_kind(self):
        """"probabilities", "sigmoid" or "logits" (``cam_sources.output_kind``)."""
        if not hasattr(self, "_output_kind"):
            try:
                self._output_kind = output_kind(self.view)
            except (ValueError, AttributeError):
                self._output_kind = "probabilities"
        return self._output_kind

    def _collect(self, step, method, declared):
        values = {}
        for guide in self.guides:
            out = getattr(guide, method)(step)
            names = getattr(guide, declared)()
            # Statistics may also come from prepare() (training only).
            if not (set(out) <= set(names) if method == "statistics" else set(out) == set(names)):
                raise KeyError(f"{type(guide).__name__}.{method} returned {sorted(out)}, but "
                               f"the guide declares {sorted(names)} in {declared}()")
            values.update(out)
        return values

    def _track(self, terms, batch):
        """Each term as this replica's share of the global-batch mean, and
        tracker updates."""
        shares = {}
        for name, value in terms.items():
            total, count = as_sum_and_count(value, batch)
            # This replica's share of the global mean: summed over the
            # replicas (gradients are), it is sum(all) / count(all).
            shares[name] = tf.math.divide_no_nan(total, sum_over_replicas(count))
            self.trackers[name].update_state(tf.math.divide_no_nan(total, count),
                                             sample_weight=count)
        return shares

    def _loss(self, x, y, sample_weight, training, statistics=None):
        """Compiled loss plus the guides' terms, as this replica's share of the
        global-batch mean (what the optimizer sums over replicas), and the
        predictions. Updates the loss tracker and the guides' trackers."""
        step = self.step(x, y, training)
        y_pred = step.predictions
        compiled = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                     training=training)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        batch = tf.cast(tf.shape(tf.nest.flatten(step.images)[0])[0], tf.float32)
        # Keras divides this replica's mean by the number of replicas, which
        # is the global mean only when every replica holds as many images.
        mean = tf.cast(compiled, tf.float32) * replicas
        loss = mean * batch / sum_over_replicas(batch)
        for share in self._track(self._collect(step, "terms", "term_names"), batch).values():
            loss = loss + share
            mean = mean + share * sum_over_replicas(batch) / batch
        self._track({**(statistics or {}),
                     **self._collect(step, "statistics", "statistic_names")}, batch)
        self._loss_metric().update_state(mean, sample_weight=batch)
        return loss, y_pred

    def _loss_metric(self):
        """The compiled "loss" metric (the Keras guide's way to reach it)."""
        return next(m for m in super().metrics if m.name == "loss")

    def prepare_batch(self, x, y):
        """The batch after every guide's ``prepare``, and their statistics."""
        statistics = {}
        for guide in self.guides:
            x, stats = guide.prepare(self, x, y)
            statistics.update(stats)
        return x, statistics

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

    # ---- saving ------------------------------------------------------------

    def base_config(self):
        """Keras's own entries, the network and the feature layer (presets
        add their arguments to these instead of the guides)."""
        return {**super().get_config(),
                "network": keras.saving.serialize_keras_object(self.network),
                "feature_layer": self.feature_layer}

    def get_config(self):
        return {**self.base_config(),
                "guides": [keras.saving.serialize_keras_object(g) for g in self.guides]}

    def other_guides_config(self):
        """The guides after a preset's own first one, serialised (a preset's
        ``guides`` entry: its own guide is saved as its arguments)."""
        return [keras.saving.serialize_keras_object(g) for g in self.guides[1:]]

    @classmethod
    def from_config(cls, config):
        """Also revives configs saved before: their guide arguments under
        older names (``guides_of_saved_keys``) become guides after the saved ones."""
        config = dict(config)
        config["network"] = keras.saving.deserialize_keras_object(config["network"])
        guides = [keras.saving.deserialize_keras_object(g) for g in config.get("guides", ())]
        guides += guides_of_saved_keys(config)
        if guides or "guides" in config:
            config["guides"] = guides
        return cls(**config)
