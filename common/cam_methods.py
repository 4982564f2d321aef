"""More map sources beside ``common.cam``'s Grad-CAM: Grad-CAM++, LayerCAM,
XGrad-CAM, Score-CAM and the class activation map itself, batched and
in-graph.

Each is called like ``GradCAM``: ``Method(model, layer=None)(images,
class_index=None, training=False)`` returns (B, H, W) float32 heatmaps in
[0, 1] at the input resolution, for the predicted class by default. They
share GradCAM's layer search (nested functional models too), its tapped
copy of the model and its class scores (the pre-softmax logit when the model
ends in a softmax); only the way the feature map's channels are combined
differs. For a GAP -> Dense head Grad-CAM and XGrad-CAM equal the
normalised ReLU of the class activation map.

Example:

```python
maps = GradCAMPlusPlus(model)(images)            # (B, H, W) in [0, 1]
maps = ScoreCAM(model, chunk_size=64)(images)    # ceil(B * C / 64) + 1 passes
```

References:
    Chattopadhay et al., Grad-CAM++, WACV 2018.
    Jiang et al., LayerCAM, IEEE TIP 2021.
    Fu et al., Axiom-based Grad-CAM (XGrad-CAM), BMVC 2020.
    Wang et al., Score-CAM, CVPR Workshops 2020.
    Zhou et al., Learning Deep Features for Discriminative Localization,
    CVPR 2016 (CAM).
"""

import tensorflow as tf

from common.cam import GradCAM, functional_view, normalize_maps, tap_model
from common.cam_sources import describe_heads, find_cam_source, method_cam_source
from common.chunked import predict_in_chunks


def _image(images):
    """The 4-D image tensor of a model's inputs (a dict of inputs too)."""
    if isinstance(images, dict):
        return next(v for v in images.values() if len(v.shape) == 4)
    return images


def _safe_divide(numerator, denominator):
    """numerator / denominator, and 0 where the denominator is 0."""
    nonzero = tf.not_equal(denominator, 0.0)
    return tf.where(nonzero, numerator / tf.where(nonzero, denominator, 1.0), 0.0)


def _resized(maps, size):
    """(B, h, w) maps bilinearly resized to ``size`` (H, W)."""
    return tf.image.resize(maps[..., None], size, method="bilinear")[..., 0]


class GradientCAM(GradCAM):
    """Grad-CAM's machinery with the combination of the feature map A
    (B, h, w, C) and its gradient g = dS/dA of the class score S left to
    ``combine``; ``__call__`` resizes the result and min-max normalises it
    per image (a constant map gives zeros).

    One gradient tape serves the whole batch, as for GradCAM: call models
    with BatchNormalization with ``training=False`` (the default).
    """

    def combine(self, features, grads):
        """(B, h, w) map from features and gradients, both float32 (B, h, w, C)."""
        raise NotImplementedError

    def __call__(self, images, class_index=None, training=False):
        size = tf.shape(_image(images))[1:3]
        features, grads, _, _ = self.gradients(images, class_index, training)
        cam = _resized(self.combine(features, grads), size)
        return tf.stop_gradient(normalize_maps(cam))


class GradCAMPlusPlus(GradientCAM):
    """Grad-CAM++ (Chattopadhay et al., WACV 2018), the closed form of its
    eq. 19 with Y = exp(S):

        alpha = g^2 / (2 g^2 + sum_ab A_ab g^3)    (0 where the denominator is 0)
        w_k   = sum_ij alpha_ij relu(g_ij),  map = relu(sum_k w_k A_k)

    The exp(S) factors of the derivatives of Y cancel in alpha and scale
    the weights by a positive constant per image, which the normalisation
    removes (and exp would overflow for large logits).
    """

    def combine(self, features, grads):
        g2 = tf.square(grads)
        total = tf.reduce_sum(features, axis=(1, 2), keepdims=True)
        alpha = _safe_divide(g2, 2.0 * g2 + total * g2 * grads)
        weights = tf.reduce_sum(alpha * tf.nn.relu(grads), axis=(1, 2), keepdims=True)
        return tf.nn.relu(tf.reduce_sum(weights * features, axis=-1))


class LayerCAM(GradientCAM):
    """LayerCAM (Jiang et al., IEEE TIP 2021): each location weighted by its
    own positive gradient, map = relu(sum_k relu(g_k) * A_k). It works on
    shallow layers too (``layer="..."``), where Grad-CAM's averaged
    gradients blur."""

    def combine(self, features, grads):
        return tf.nn.relu(tf.reduce_sum(tf.nn.relu(grads) * features, axis=-1))


class XGradCAM(GradientCAM):
    """XGrad-CAM (Fu et al., BMVC 2020): gradients averaged with the
    activations as weights, w_k = sum_ij g_ij A_ij / sum_ij A_ij (0 for an
    all-zero channel), map = relu(sum_k w_k A_k)."""

    def combine(self, features, grads):
        weights = _safe_divide(tf.reduce_sum(grads * features, axis=(1, 2), keepdims=True),
                               tf.reduce_sum(features, axis=(1, 2), keepdims=True))
        return tf.nn.relu(tf.reduce_sum(weights * features, axis=-1))


class ScoreCAM(GradCAM):
    """Score-CAM (Wang et al., CVPR-W 2020), batched and gradient-free.

    Each channel A_k of the feature map is upsampled to the image size and
    min-max normalised to H_k in [0, 1]; its weight is the model's output
    for the explained class on ``image * H_k`` (the softmax probability for
    a model ending in softmax, as in the paper; the output as it is
    otherwise), and 0 for a constant channel (as the authors' code skips
    it). The map is relu(sum_k w_k upsample(A_k)), min-max normalised.

    The B * C masked images are built chunk by chunk and run in
    ceil(B * C / chunk_size) forward passes, after one pass through the
    tapped model for the features and the predicted classes. Single-input
    models only (the image is masked).
    """

    def __init__(self, model, layer=None, chunk_size=64):
        super().__init__(model, layer)
        self.chunk_size = int(chunk_size)

    def __call__(self, images, class_index=None, training=False):
        if isinstance(images, dict):
            raise TypeError("ScoreCAM masks the image, so it needs a single-input model "
                            "called with one image tensor; got a dict of inputs.")
        images = tf.convert_to_tensor(images)
        size = tf.shape(images)[1:3]
        features, head_values = self.tapped(images, training=training)
        features = tf.cast(features, tf.float32)
        if class_index is None:
            class_index = tf.argmax(self.scores(head_values), axis=-1)
        class_index = tf.cast(tf.reshape(class_index, (-1,)), tf.int32)
        channels = features.shape[-1]
        # (B * C, h, w): row b * C + k is channel k of image b.
        per_channel = tf.reshape(tf.transpose(features, (0, 3, 1, 2)),
                                 (-1, tf.shape(features)[1], tf.shape(features)[2]))

        def make_inputs(indices):
            upsampled = _resized(tf.gather(per_channel, indices), size)
            masks = normalize_maps(upsampled)[..., None]
            return tf.gather(images, indices // channels) * tf.cast(masks, images.dtype)

        outputs = predict_in_chunks(self.model, make_inputs,
                                    tf.shape(per_channel)[0], self.chunk_size)
        rows = tf.repeat(class_index, channels)
        weights = tf.reshape(tf.gather(outputs, rows, axis=1, batch_dims=1), (-1, channels))
        span = tf.reduce_max(features, axis=(1, 2)) - tf.reduce_min(features, axis=(1, 2))
        weights = tf.where(span > 0, weights, 0.0)  # (B, C)
        cam = _resized(tf.einsum("bhwc,bc->bhw", features, weights), size)
        return tf.stop_gradient(normalize_maps(tf.nn.relu(cam)))


class ClassActivationMap:
    """The class activation map (Zhou et al., CVPR 2016) of a head that
    decomposes its logits into maps (``common.cam_sources``: GAP -> Dense,
    1x1 conv CAM -> GAP): the explained class's map, whose spatial mean is
    its logit, bilinearly resized to the input and min-max normalised per
    image, negative values included (Grad-CAM of a GAP -> Dense head is
    its ReLU). One forward pass, no gradient.

    Called like ``GradCAM``; ``layer``, if given, must be the layer the head
    reads. ValueError for a model whose head is of another kind.
    """

    def __init__(self, model, layer=None):
        model = functional_view(getattr(model, "network", model))
        source = find_cam_source(model) or method_cam_source(model)
        if source is None:
            raise ValueError(f"CAM: model '{model.name}' has no head whose logits decompose "
                             f"into class maps; expected {describe_heads()}, or a FAM "
                             "network")
        if layer is not None and layer not in (source.feature_layer,
                                               source.feature_layer.name):
            raise ValueError(f"CAM: the head of model '{model.name}' reads layer "
                             f"'{source.feature_layer.name}', not {layer!r}")
        self.model, self.source = model, source
        self.tapped = tap_model(model, source.feature_layer)

    def __call__(self, images, class_index=None, training=False):
        size = tf.shape(_image(images))[1:3]
        features, outputs = self.tapped(images, training=training)
        cams = self.source.cams(features)  # (B, h, w, K), float32
        if class_index is None:
            class_index = tf.argmax(outputs, axis=-1)
        class_index = tf.cast(tf.reshape(class_index, (-1,)), tf.int32)
        chosen = tf.gather(tf.transpose(cams, (0, 3, 1, 2)), class_index, axis=1,
                           batch_dims=1)
        return tf.stop_gradient(normalize_maps(_resized(chosen, size)))


# Map sources by name (the --maps names of common.evaluate).
MAP_SOURCES = {"gradcam": GradCAM, "gradcampp": GradCAMPlusPlus, "layercam": LayerCAM,
               "xgradcam": XGradCAM, "scorecam": ScoreCAM, "cam": ClassActivationMap}

