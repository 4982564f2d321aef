"""Where a classifier's class activation maps come from.

A CAM source names the layer to tap and turns that layer's output into
``cams`` (B, h, w, K) float32 whose spatial mean is the class logit (the
DESIGN contract), and ``maps``: the head's pre-activation maps that a
guide fits (FSA). Two heads decompose their logits this way:

- ``DenseHead``: features -> GlobalAveragePooling2D [-> Dropout] -> Dense
  (softmax, sigmoid or no activation; optionally followed by a
  ``Softmax``/``Activation`` layer). CAM = features . kernel + bias;
  ``maps`` are the CAMs.
- ``ConvHead``: a 1x1 ``Conv2D`` with one filter per class [-> ReLU] ->
  GlobalAveragePooling2D [-> softmax] (SqueezeNet's, FSA's). With a ReLU the
  CAMs are the maps *after* it (their mean is the logit), while ``maps`` are
  the conv outputs before it (what the FSA paper fits: below zero the ReLU
  passes no gradient).

A model with another head (FAM) passes its own source to
``GuidedClassifier(cam_source=...)``.
"""

import keras
import tensorflow as tf

from common.cam import class_activation_maps, is_functional
from common.keras_compat import producing_layer

_ACTIVATIONS = (keras.layers.Softmax, keras.layers.Activation, keras.layers.ReLU)


def _activation_name(layer):
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    if isinstance(layer, keras.layers.ReLU):
        return "relu"
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", str(activation)) if activation else "linear"


def _below(layer):
    """The layer producing ``layer``'s (single) input, or None."""
    try:
        return producing_layer(layer.input)
    except (AttributeError, ValueError):
        return None


def output_kind(network):
    """``"probabilities"`` (softmax), ``"sigmoid"`` or ``"logits"``: what the
    network's output is, read from its last layers (compile the loss with
    ``from_logits`` for logits)."""
    layer = producing_layer(network.outputs[0])
    while isinstance(layer, keras.layers.Dropout):
        layer = _below(layer)
    if is_functional(layer):
        return output_kind(layer)
    name = _activation_name(layer)
    if name in ("softmax", "sigmoid"):
        return "probabilities" if name == "softmax" else "sigmoid"
    if name == "linear":
        return "logits"
    raise ValueError(f"model '{network.name}' ends in '{layer.name}' with activation "
                     f"'{name}': expected softmax, sigmoid or logits")


def as_probabilities(scores, network):
    """``scores`` (N, K) of ``network`` as probabilities: softmax of logits
    (NumPy, for evaluation), unchanged otherwise."""
    import numpy as np
    try:
        kind = output_kind(network)
    except (ValueError, AttributeError):
        return scores
    if kind != "logits":
        return scores
    scores = np.asarray(scores, np.float64)
    shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return (shifted / shifted.sum(axis=-1, keepdims=True)).astype(np.float32)


def log_probabilities(outputs, kind="probabilities"):
    """Log-probabilities of a network's outputs: log-softmax of logits, the
    log of probabilities (floored at 1e-12, whose gradient is then zero)."""
    outputs = tf.cast(outputs, tf.float32)
    if kind == "logits":
        return tf.nn.log_softmax(outputs, axis=-1)
    return tf.math.log(tf.maximum(outputs, 1e-12))


class CamSource:
    """Base: ``feature_layer`` to tap; ``cams`` and ``maps`` from its output."""

    relu = False  # the head rectifies the maps before pooling (FSA's cam_alive)
    description = "custom"

    def __init__(self, feature_layer):
        self.feature_layer = feature_layer

    def cams(self, features):
        raise NotImplementedError

    def maps(self, features):
        return self.cams(features)


class DenseHead(CamSource):
    description = "GAP -> Dense"

    def __init__(self, feature_layer, dense):
        super().__init__(feature_layer)
        self.dense = dense

    def cams(self, features):
        dense = self.dense
        return class_activation_maps(tf.cast(features, tf.float32), dense.kernel,
                                     dense.bias if dense.use_bias else None)


class ConvHead(CamSource):
    description = "1x1 conv CAM -> GAP"

    def __init__(self, conv, relu):
        super().__init__(conv)
        self.relu = relu or _activation_name(conv) == "relu"
        self._rectify = relu  # a separate ReLU layer; the conv's own output is pre-ReLU

    def cams(self, features):
        maps = tf.cast(features, tf.float32)
        return tf.nn.relu(maps) if self._rectify else maps

    def maps(self, features):
        return tf.cast(features, tf.float32)


def _strip_output_activation(network):
    """The head's last layer once a trailing activation layer is skipped."""
    layer = producing_layer(network.outputs[0])
    if isinstance(layer, _ACTIVATIONS) and _activation_name(layer) in (
            "softmax", "sigmoid", "linear"):
        layer = _below(layer)
    return layer


def find_cam_source(network, feature_layer=None):
    """The ``CamSource`` of ``network``'s head, or None when the head does not
    decompose its logits into maps. ``feature_layer`` (a layer), if given,
    must be the layer the head reads."""
    layer = _strip_output_activation(network)
    if is_functional(layer):  # the head sits in a nested model (e.g. with_input_range)
        return find_cam_source(layer, feature_layer)
    if isinstance(layer, keras.layers.Dense):
        dense, below = layer, _below(layer)
        if isinstance(below, keras.layers.Dropout):
            below = _below(below)
        if isinstance(below, keras.layers.GlobalAveragePooling2D):
            features = _below(below)
            if features is not None and feature_layer in (None, features):
                return DenseHead(features, dense)
        return None
    if isinstance(layer, keras.layers.GlobalAveragePooling2D):
        below = _below(layer)
        relu = isinstance(below, _ACTIVATIONS) and _activation_name(below) == "relu"
        conv = _below(below) if relu else below
        if (isinstance(conv, keras.layers.Conv2D) and tuple(conv.kernel_size) == (1, 1)
                and _activation_name(conv) in ("linear", "relu")
                and feature_layer in (None, conv)):
            return ConvHead(conv, relu)
    return None


# Heads that another package defines, found through this entry-point group
# (common imports no method package): function(network) -> CamSource or None.
CAM_SOURCE_GROUP = "attention_guided.cam_sources"


def method_cam_source(network, feature_layer=None):
    """The ``CamSource`` an installed package finds in ``network`` (e.g.
    FAM's part-weighted maps, ``attention_guided.cam_sources``), or None;
    ``feature_layer`` (a layer), if given, must be the layer it reads."""
    from common.entry_points import group_entry_points
    for _, point in sorted(group_entry_points(CAM_SOURCE_GROUP).items()):
        source = point.load()(network)
        if source is not None and feature_layer in (None, source.feature_layer):
            return source
    return None


def describe_heads():
    """What a guide that needs CAMs accepts (for error messages)."""
    return ("a GAP -> [Dropout] -> Dense head or a 1x1 conv -> [ReLU] -> GAP head (or "
            "pass cam_source=)")
