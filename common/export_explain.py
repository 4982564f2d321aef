"""What the exports' ``explain`` outputs compute: a classifier's
probabilities and the Grad-CAM heatmap of its top class at input
resolution, (B, H, W) in [0, 1] (``common.cam.GradCAM``'s definition).

- A CAM head (``common.cam_sources``: GAP -> [Dropout] -> Dense, or a 1x1
  conv CAM -> [ReLU] -> GAP) gets it by a forward computation: the
  gradient of a class logit with respect to the feature map is then
  constant over the positions, so Grad-CAM is the normalised ReLU of the
  class map without its bias (Dense) or of the CAM itself (1x1 conv).
  Every format holds it: no gradient op is exported.
- Any other single-input head (FAM, a Flatten head, ...) gets Grad-CAM
  with its gradients traced into the graph: the SavedModel holds it for
  any batch; LiteRT converts the gradient ops it has builtins for; ONNX
  runs it one image at a time (tf2onnx turns the gradient's dynamic-batch
  reshapes into ones onnxruntime rejects).
- Models with several inputs (AG-Net) get no ``explain`` outputs.

Probabilities are the model's outputs, or their softmax for a model that
outputs logits.
"""

import keras
import tensorflow as tf

from common.cam import GradCAM, class_activation_maps, functional_view, normalize_maps, tap_model
from common.cam_sources import ConvHead, DenseHead, find_cam_source, output_kind

OUTPUTS = ("probabilities", "heatmap")


class ExplainUnsupported(ValueError):
    """A model whose exports cannot hold ``explain`` outputs; says why."""


def _probabilities(network):
    try:
        logits = output_kind(network) == "logits"
    except (ValueError, AttributeError):
        logits = False
    return (lambda outputs: tf.nn.softmax(tf.cast(outputs, tf.float32), axis=-1)) if logits \
        else (lambda outputs: tf.cast(outputs, tf.float32))


def _forward(network, view, source):
    """images -> explain outputs of a CAM head, forward only."""
    tapped = tap_model(view, source.feature_layer)
    probabilities = _probabilities(network)

    def explain(images):
        features, outputs = tapped(images, training=False)
        if isinstance(source, DenseHead):  # the bias is no part of the gradient
            maps = class_activation_maps(tf.cast(features, tf.float32), source.dense.kernel)
        else:
            maps = source.cams(features)
        maps = tf.cast(maps, tf.float32)  # (B, h, w, K)
        top = tf.one_hot(tf.argmax(outputs, axis=-1), tf.shape(maps)[-1], dtype=tf.float32)
        chosen = tf.nn.relu(tf.reduce_sum(maps * top[:, None, None, :], axis=-1))
        heatmap = tf.image.resize(chosen[..., None], tf.shape(images)[1:3],
                                  method="bilinear")[..., 0]
        return {"probabilities": probabilities(outputs), "heatmap": normalize_maps(heatmap)}
    return explain


def _gradients(network):
    """images -> explain outputs through Grad-CAM's gradient tape."""
    cam = GradCAM(network)
    probabilities = _probabilities(network)

    def explain(images):
        outputs = network(images, training=False)
        return {"probabilities": probabilities(outputs), "heatmap": cam(images)}
    return explain


def explainer(network):
    """``(explain, how)``: explain(images (B, H, W, C) float32) -> dict of
    ``probabilities`` (B, K) and ``heatmap`` (B, H, W), float32;
    ``how`` is ``"forward"`` (a CAM head) or ``"gradients"``.
    ExplainUnsupported for a model with several inputs or outputs."""
    if len(network.inputs) != 1 or len(network.outputs) != 1 \
            or len(network.inputs[0].shape) != 4:
        raise ExplainUnsupported(f"model '{network.name}' does not take one image and give "
                                 "one output (explain covers single-input classifiers)")
    view = functional_view(network)
    source = find_cam_source(view)
    if isinstance(source, (DenseHead, ConvHead)):
        return _forward(network, view, source), "forward"
    return _gradients(network), "gradients"


def input_spec(network, batch=None):
    """The TensorSpec of the image input (named as the model's input)."""
    tensor = network.inputs[0]
    return tf.TensorSpec((batch, *tensor.shape[1:]), tf.float32, name=tensor.name)


def describe(how):
    """What the heatmap is, for exports.json and the README."""
    return ("Grad-CAM of the top class, computed forward from the CAM head" if how == "forward"
            else "Grad-CAM of the top class, through its gradients")


def keras_reference(network, images):
    """The explain outputs computed by Keras, as NumPy arrays, in a
    ``tf.function`` as ``predict`` runs a model (in float16, a graph's fused
    kernels round otherwise than eager ops, and normalised maps show it)."""
    explain, _ = explainer(network)
    outputs = tf.function(explain)(tf.constant(images, tf.float32))
    return {name: keras.ops.convert_to_numpy(outputs[name]) for name in OUTPUTS}
