"""The CAM engine: class activation maps and batched, in-graph Grad-CAM.

Both run inside ``tf.function``, a custom ``train_step`` and a
``tf.distribute`` replica context; neither loops over images in Python.
"""

import keras
import tensorflow as tf
from keras import ops

from common.keras_compat import producing_layer


def class_activation_maps(features, kernel, bias=None):
    """CAMs (B, h, w, K) from features (B, h, w, C) and the (C, K) kernel of
    the Dense layer that follows global average pooling.

    With ``bias`` the spatial mean of each map is the class logit.
    """
    kernel = ops.cast(kernel, features.dtype)
    cams = ops.einsum("bhwc,ck->bhwk", features, kernel)
    if bias is not None:
        cams = cams + ops.cast(bias, features.dtype)
    return cams


def normalize_maps(maps):
    """Per-image min-max normalisation of (B, H, W) maps to [0, 1]; a
    constant map becomes zeros."""
    low = ops.min(maps, axis=(1, 2), keepdims=True)
    span = ops.max(maps, axis=(1, 2), keepdims=True) - low
    safe = ops.where(span > 0, span, ops.ones_like(span))
    return ops.where(span > 0, (maps - low) / safe, ops.zeros_like(maps))


def is_functional(layer):
    """A model built from keras.Input (Sequential and subclassed models are
    not): only those expose their graph as ``operations``."""
    return isinstance(layer, keras.Model) and hasattr(layer, "operations")


def functional_view(model):
    """``model`` as a functional model sharing its layers and weights: a
    built ``keras.Sequential`` becomes one (Keras's graph tools, e.g.
    ``clone_model`` with ``call_function``, need a functional graph)."""
    if is_functional(model):
        return model
    if isinstance(model, keras.Sequential):
        try:
            inputs, outputs = model.inputs, model.outputs
            return keras.Model(inputs[0] if len(inputs) == 1 else inputs,
                               outputs[0] if len(outputs) == 1 else outputs, name=model.name)
        except (AttributeError, ValueError):
            raise ValueError(f"Sequential model '{model.name}' is not built: start it with "
                             "keras.Input(shape) or call model.build(shape)") from None
    raise TypeError(f"model '{getattr(model, 'name', model)}' ({type(model).__name__}) is "
                    "neither functional nor Sequential: build it from keras.Input (a "
                    "subclassed model's graph cannot be tapped for its CAMs)")


def _output_rank(layer):
    try:
        return len(layer.output.shape)
    except (AttributeError, ValueError):
        return None


def _path_to(model, target):
    """Nested models from ``model`` down to the one that holds ``target``."""
    for layer in model.layers:
        if layer is target:
            return [model]
        if is_functional(layer):
            sub = _path_to(layer, target)
            if sub:
                return [model] + sub
    return None


def find_layer(model, layer):
    """The layer ``layer`` names (a name, a layer object, or None for the last
    top-level layer with a 4-D output), searched in nested models too."""
    if layer is None:
        for candidate in reversed(model.layers):
            if _output_rank(candidate) == 4:
                return candidate
            if is_functional(candidate):  # e.g. a whole classifier nested in a wrapper
                try:
                    return find_layer(candidate, None)
                except ValueError:
                    pass
        raise ValueError(f"GradCAM: model '{model.name}' has no layer with a 4-D "
                         "(B, h, w, C) output; pass layer= explicitly.")
    if isinstance(layer, str):
        stack = [model]
        while stack:
            current = stack.pop(0)
            for candidate in current.layers:
                if candidate.name == layer:
                    return candidate
                if is_functional(candidate):
                    stack.append(candidate)
        raise ValueError(f"GradCAM: no layer named '{layer}' in model '{model.name}' "
                         "or the models nested in it.")
    if _path_to(model, layer) is None:
        raise ValueError(f"GradCAM: layer '{layer.name}' is not part of model "
                         f"'{model.name}'.")
    return layer


def _head(model):
    """The model's last layer and how to get pre-softmax scores from it."""
    last = producing_layer(model.outputs[0])
    if isinstance(last, keras.layers.Dense) and \
            last.activation in (keras.activations.softmax, keras.activations.sigmoid):
        return last, "dense_logits"
    if isinstance(last, keras.layers.Softmax) or (
            isinstance(last, keras.layers.Activation)
            and last.activation in (keras.activations.softmax,)):
        return last, "input"
    return last, "output"


def tap_model(model, layer, head=None):
    """A functional model from ``model.inputs`` to ``[layer output, head input
    (or the model output when head is None)]``, sharing all weights.

    ``layer`` may sit inside nested functional models: each model on the way
    is rebuilt with ``keras.models.clone_model`` (identity clone, so weights
    are shared) and its call intercepted to expose the tensor.
    """
    path = _path_to(model, layer)

    def rebuild(depth):
        current = path[depth]
        child = path[depth + 1] if depth + 1 < len(path) else None
        taps = {}

        def call_function(op, *args, **kwargs):
            if op is layer:
                out = op(*args, **kwargs)
                taps["feature"] = out
                return out
            if child is not None and op is child:
                inner = rebuild(depth + 1)
                feature, out = inner(*args, **kwargs)
                taps["feature"] = feature
                return out
            if depth == 0 and head is not None and op is head:
                taps["head"] = args[0]
            return op(*args, **kwargs)

        clone = keras.models.clone_model(current, clone_function=lambda op: op,
                                         call_function=call_function)
        second = taps.get("head", clone.outputs[0]) if depth == 0 else clone.outputs[0]
        return keras.Model(clone.input, [taps["feature"], second],
                           name=f"{current.name}_tapped")

    return rebuild(0)


class GradCAM:
    """Batched Grad-CAM (Selvaraju et al.) on any functional Keras model.

    ``GradCAM(model, layer=None)(images, class_index=None, training=False)``
    returns (B, H, W) float32 heatmaps in [0, 1] at the input resolution:
    ReLU of the gradient-weighted feature map, bilinearly resized, then
    min-max normalised per image (a constant map gives zeros).

    The score differentiated is the class's pre-softmax logit when the model
    ends in a softmax (a Dense with softmax activation, or a Softmax layer),
    so for a GAP -> Dense head Grad-CAM equals the normalised ReLU of the
    class activation map.

    ``layer``: a layer name, a layer object, or None for the last top-level
    layer with a 4-D output (typically a backbone model nested inside the
    classifier). Layers inside nested functional models are found too.

    One gradient tape serves the whole batch: the summed score's gradient
    with respect to the feature map is per image only if images do not
    interact, so call models with BatchNormalization with ``training=False``
    (the default); in training mode batch statistics mix the images.
    """

    def __init__(self, model, layer=None):
        model = functional_view(getattr(model, "network", model))
        self.model = model
        self.layer = find_layer(model, layer)
        self.head, self.score_mode = _head(model)
        self.tapped = tap_model(model, self.layer,
                                None if self.score_mode == "output" else self.head)

    def scores(self, head_values):
        """Class scores (B, K) from the tapped head tensor."""
        head_values = ops.cast(head_values, "float32")
        if self.score_mode == "dense_logits":
            logits = ops.matmul(head_values, ops.cast(self.head.kernel, "float32"))
            if self.head.use_bias:
                logits = logits + ops.cast(self.head.bias, "float32")
            return logits
        return head_values

    def gradients(self, images, class_index=None, training=False):
        """Features A (B, h, w, C), gradients dS/dA (float32), class scores
        S (B, K) and the explained classes (B,) int32."""
        with tf.GradientTape() as tape:
            features, head_values = self.tapped(images, training=training)
            tape.watch(features)
            scores = self.scores(head_values)
            if class_index is None:
                class_index = tf.argmax(scores, axis=-1)
            class_index = tf.cast(tf.reshape(class_index, (-1,)), tf.int32)
            chosen = tf.gather(scores, class_index, axis=1, batch_dims=1)
            # Images do not interact, so the sum's gradient is per image.
            total = tf.reduce_sum(chosen)
        grads = tape.gradient(total, features)
        return (tf.cast(features, tf.float32), tf.cast(grads, tf.float32), scores,
                class_index)

    def __call__(self, images, class_index=None, training=False):
        image = images
        if isinstance(images, dict):
            image = next(v for v in images.values() if len(v.shape) == 4)
        size = tf.shape(image)[1:3]
        features, grads, _, _ = self.gradients(images, class_index, training)
        weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
        cam = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1, keepdims=True))
        cam = tf.image.resize(cam, size, method="bilinear")[..., 0]
        return tf.stop_gradient(normalize_maps(cam))
