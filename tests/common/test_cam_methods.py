"""Grad-CAM++, LayerCAM, XGrad-CAM and Score-CAM against their papers'
formulas computed in NumPy from the feature map and the analytic gradients
of two heads: GAP -> Dense (gradients constant over locations, where
Grad-CAM and XGrad-CAM reduce to the CAM) and Flatten -> Dense (gradients
that vary over locations)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from common.backbones import build_backbone
from common.cam import GradCAM, find_layer
from common.cam_methods import GradCAMPlusPlus, LayerCAM, ScoreCAM, XGradCAM
from common.classifier import build_cam_classifier

SIZE, CLASSES = 16, 3


def _normalize(maps):
    low = maps.min(axis=(-2, -1), keepdims=True)
    span = maps.max(axis=(-2, -1), keepdims=True) - low
    return np.where(span > 0, (maps - low) / np.where(span > 0, span, 1), 0.0)


def _upsample(maps):
    """(B, h, w) -> (B, SIZE, SIZE), bilinear as the engine resizes."""
    maps = np.asarray(maps, np.float32)[..., None]
    return tf.image.resize(maps, (SIZE, SIZE), method="bilinear").numpy()[..., 0]


def _gap_model():
    return build_cam_classifier(build_backbone("tiny", (SIZE, SIZE, 3)), CLASSES)


def _flatten_model():
    backbone = build_backbone("tiny", (SIZE, SIZE, 3))
    inputs = keras.Input((SIZE, SIZE, 3))
    flat = keras.layers.Flatten()(backbone(inputs))
    outputs = keras.layers.Dense(CLASSES, activation="softmax", name="classifier")(flat)
    return keras.Model(inputs, outputs)


def _features_logits_grads(model, images, classes):
    """Feature map A (B, h, w, C), logits S (B, K) and dS_c/dA, analytic:
    GAP -> Dense gives W[:, c] / (h w) everywhere, Flatten -> Dense the
    kernel's rows for each location."""
    features = model.layers[1](images, training=False).numpy().astype(np.float64)
    batch, h, w, c = features.shape
    kernel, bias = (np.asarray(v, np.float64) for v in model.get_layer("classifier").weights)
    if isinstance(model.layers[2], keras.layers.GlobalAveragePooling2D):
        logits = features.mean(axis=(1, 2)) @ kernel + bias
        grads = np.broadcast_to(kernel.T[classes][:, None, None, :] / (h * w), features.shape)
    else:
        logits = features.reshape(batch, -1) @ kernel + bias
        grads = kernel.reshape(h, w, c, -1)[..., classes].transpose(3, 0, 1, 2)
    return features, logits, np.array(grads)


def _gradcampp(a, logits, g, classes):
    """The paper's eq. 19 with Y = exp(S): its derivatives exp(S) g^n."""
    e = np.exp(logits[np.arange(len(classes)), classes])[:, None, None, None]
    d1, d2, d3 = e * g, e * g ** 2, e * g ** 3
    denominator = 2 * d2 + a.sum(axis=(1, 2), keepdims=True) * d3
    alpha = np.where(denominator != 0, d2 / np.where(denominator != 0, denominator, 1), 0)
    weights = (alpha * np.maximum(d1, 0)).sum(axis=(1, 2), keepdims=True)
    return np.maximum((weights * a).sum(-1), 0)


def _layercam(a, logits, g, classes):
    return np.maximum((np.maximum(g, 0) * a).sum(-1), 0)


def _xgradcam(a, logits, g, classes):
    total = a.sum(axis=(1, 2), keepdims=True)
    weights = np.where(total != 0, (g * a).sum(axis=(1, 2), keepdims=True)
                       / np.where(total != 0, total, 1), 0)
    return np.maximum((weights * a).sum(-1), 0)


METHODS = [(GradCAMPlusPlus, _gradcampp), (LayerCAM, _layercam), (XGradCAM, _xgradcam)]


@pytest.mark.parametrize("build", [_gap_model, _flatten_model])
@pytest.mark.parametrize("method,formula", METHODS)
def test_gradient_methods_match_their_formulas(build, method, formula):
    model = build()
    images = np.random.rand(4, SIZE, SIZE, 3).astype(np.float32)
    classes = np.array([0, 1, 2, 1])
    a, logits, g = _features_logits_grads(model, images, classes)
    assert np.ptp(g[0, ..., 0]) > 0 or build is _gap_model  # Flatten: varies over locations
    want = _normalize(_upsample(formula(a, logits, g, classes)))
    got = method(model)(images, class_index=classes).numpy()
    assert got.shape == (4, SIZE, SIZE) and got.dtype == np.float32
    assert want.max() == pytest.approx(1.0)  # a map that could differ
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_gradcam_and_xgradcam_are_the_cam_for_a_gap_dense_head():
    model = _gap_model()
    images = np.random.rand(4, SIZE, SIZE, 3).astype(np.float32)
    predicted = model.predict(images, verbose=0).argmax(-1)
    features = model.layers[1](images, training=False).numpy()
    kernel = model.get_layer("classifier").weights[0].numpy()
    cams = np.einsum("bhwc,ck->bhwk", features, kernel)[np.arange(4), ..., predicted]
    want = _normalize(_upsample(np.maximum(cams, 0)))
    for method in (GradCAM, XGradCAM):  # the predicted class by default
        np.testing.assert_allclose(method(model)(images).numpy(), want, atol=1e-4)


def _bn3_features(model, images):
    """The tiny backbone's pre-ReLU feature map (values of both signs)."""
    backbone = model.layers[1]
    tiny = backbone.layers[-1]
    tap = keras.Model(tiny.inputs, tiny.get_layer("bn3").output)
    return tap(backbone.get_layer("preprocess")(images), training=False).numpy()


def _numpy_scorecam(model, images, classes):
    """The authors' loop, one image at a time: each channel upsampled and
    normalised, constant ones skipped, weighted by the class probability
    on the masked image (the image's masked copies in one call)."""
    features = _bn3_features(model, images)
    maps = []
    for i, image in enumerate(images):
        upsampled = tf.image.resize(features[i], (SIZE, SIZE)).numpy()  # (H, W, C)
        upsampled = upsampled.transpose(2, 0, 1)
        keep = upsampled.max(axis=(1, 2)) > upsampled.min(axis=(1, 2))
        masks = _normalize(upsampled[keep])
        probabilities = model(image[None] * masks[..., None], training=False).numpy()
        total = np.einsum("k,khw->hw", probabilities[:, classes[i]], upsampled[keep])
        maps.append(_normalize(np.maximum(total, 0)))
    return np.stack(maps)


def test_scorecam_matches_the_per_channel_loop():
    model = _gap_model()
    # On bn3 (before the ReLU) with channel 0 constant and positive: its
    # weight must be 0, as the loop skips it (the ReLU of the sum sees it).
    conv, norm = find_layer(model, "conv3"), find_layer(model, "bn3")
    conv.kernel.assign(conv.kernel.numpy() * (np.arange(64) > 0))
    norm.beta.assign(np.r_[0.5, norm.beta.numpy()[1:]])
    images = np.random.rand(2, SIZE, SIZE, 3).astype(np.float32)
    features = _bn3_features(model, images)
    assert np.ptp(features[..., 0]) == 0 < features[0, 0, 0, 0] and features.min() < 0
    predicted = model.predict(images, verbose=0).argmax(-1)
    classes = np.array([predicted[0], (predicted[1] + 1) % CLASSES])
    cam = ScoreCAM(model, layer="bn3", chunk_size=7)  # 2 x 64 channels in 19 uneven chunks
    want = _numpy_scorecam(model, images, classes)
    assert want.max() == pytest.approx(1.0)
    np.testing.assert_allclose(cam(images, class_index=classes).numpy(), want, atol=1e-4)
    compiled = tf.function(lambda x: cam(x))  # the predicted classes, in graph
    np.testing.assert_allclose(compiled(tf.constant(images)).numpy()[0], want[0], atol=1e-4)
    with pytest.raises(TypeError, match="single-input"):
        cam({"image": images})
