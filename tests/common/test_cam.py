"""CAM engine: CAMs against NumPy, Grad-CAM against the analytic GAP -> Dense
case and a per-image loop, in graph and under MirroredStrategy."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from common.backbones import build_backbone
from common.cam import GradCAM, class_activation_maps, normalize_maps


def _classifier(num_classes=4, size=32):
    """backbone (nested functional model) -> GAP -> Dense softmax."""
    backbone = build_backbone("tiny", (size, size, 3))
    inputs = keras.Input((size, size, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(backbone(inputs))
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="classifier")(pooled)
    return keras.Model(inputs, outputs)


def _numpy_normalize(maps):
    low = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - low
    return np.where(span > 0, (maps - low) / np.where(span > 0, span, 1), 0.0)


def test_class_activation_maps_match_numpy():
    features = np.random.randn(2, 3, 4, 5).astype("float32")
    kernel = np.random.randn(5, 6).astype("float32")
    bias = np.random.randn(6).astype("float32")
    cams = np.asarray(class_activation_maps(features, kernel, bias))
    expected = np.einsum("bhwc,ck->bhwk", features, kernel) + bias
    np.testing.assert_allclose(cams, expected, rtol=1e-5, atol=1e-5)
    # With the bias, a CAM's spatial mean is the GAP -> Dense logit.
    logits = features.mean(axis=(1, 2)) @ kernel + bias
    np.testing.assert_allclose(cams.mean(axis=(1, 2)), logits, rtol=1e-4, atol=1e-5)


def test_normalize_maps_constant_map_gives_zeros():
    maps = np.stack([np.full((4, 4), 3.0), np.random.rand(4, 4)]).astype("float32")
    out = np.asarray(normalize_maps(maps))
    np.testing.assert_array_equal(out[0], 0.0)
    np.testing.assert_allclose(out[1], _numpy_normalize(maps[1:])[0], rtol=1e-6)


def _analytic_maps(model, images, classes):
    """Normalised ReLU of the class CAM, resized to the input size."""
    features = model.layers[1](images, training=False).numpy()
    kernel, _ = (np.asarray(w) for w in model.get_layer("classifier").weights)
    cams = np.einsum("bhwc,ck->bhwk", features, kernel)
    chosen = np.maximum(cams[np.arange(len(classes)), :, :, classes], 0)
    resized = tf.image.resize(chosen[..., None], images.shape[1:3]).numpy()[..., 0]
    return _numpy_normalize(resized)


def test_gradcam_equals_normalised_relu_cam_for_gap_dense_head():
    model = _classifier()
    images = np.random.rand(6, 32, 32, 3).astype("float32")
    classes = np.array([0, 1, 2, 3, 1, 2])
    heatmaps = GradCAM(model)(images, class_index=classes).numpy()
    assert heatmaps.shape == (6, 32, 32) and heatmaps.dtype == np.float32
    assert heatmaps.min() >= 0 and heatmaps.max() <= 1
    np.testing.assert_allclose(heatmaps, _analytic_maps(model, images, classes), atol=1e-4)


def test_gradcam_defaults_to_predicted_class():
    model = _classifier()
    images = np.random.rand(4, 32, 32, 3).astype("float32")
    predicted = model.predict(images, verbose=0).argmax(-1)
    np.testing.assert_allclose(GradCAM(model)(images).numpy(),
                               _analytic_maps(model, images, predicted), atol=1e-4)


def _per_image_gradcam(model, inner_layer_name, image, class_index):
    """The per-image loop of the reference implementations, with a model whose
    backbone is flattened by hand so the layer is reachable."""
    backbone = model.layers[1]
    inner = backbone.layers[-1]  # the tiny convnet inside the backbone wrapper
    tap = keras.Model(inner.inputs, [inner.get_layer(inner_layer_name).output, inner.output])
    with tf.GradientTape() as tape:
        x = backbone.get_layer("preprocess")(image[None])
        feature, out = tap(x, training=False)
        tape.watch(feature)
        pooled = tf.reduce_mean(out, axis=(1, 2))
        kernel, bias = model.get_layer("classifier").weights
        score = (pooled @ kernel + bias)[0, class_index]
    grads = tape.gradient(score, feature)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * feature, axis=-1, keepdims=True))
    cam = tf.image.resize(cam, image.shape[:2])[0, ..., 0].numpy()
    return _numpy_normalize(cam[None])[0]


def test_gradcam_finds_layers_inside_nested_models():
    model = _classifier()
    images = np.random.rand(3, 32, 32, 3).astype("float32")
    classes = np.array([2, 0, 1])
    cam = GradCAM(model, layer="relu2")
    assert cam.layer.name == "relu2"
    heatmaps = cam(images, class_index=classes).numpy()
    for i in range(3):
        np.testing.assert_allclose(heatmaps[i], _per_image_gradcam(
            model, "relu2", images[i], classes[i]), atol=1e-4)
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        GradCAM(model, layer="nope")


def test_gradcam_in_tf_function_and_with_layer_object():
    model = _classifier()
    images = np.random.rand(4, 32, 32, 3).astype("float32")
    classes = tf.constant([3, 2, 1, 0])
    inner = model.layers[1].layers[-1]
    cam = GradCAM(model, layer=inner.get_layer("relu3"))
    compiled = tf.function(lambda x, c: cam(x, class_index=c))
    np.testing.assert_allclose(compiled(images, classes).numpy(),
                               _analytic_maps(model, images, classes.numpy()), atol=1e-4)


def test_gradcam_under_mirrored_strategy(mirrored):
    with mirrored.scope():
        model = _classifier()
        cam = GradCAM(model)
    images = np.random.rand(8, 32, 32, 3).astype("float32")
    classes = np.random.randint(0, 4, 8)
    dataset = tf.data.Dataset.from_tensor_slices((images, classes)).batch(8)
    batch = next(iter(mirrored.experimental_distribute_dataset(dataset)))

    @tf.function
    def step(inputs):
        return mirrored.run(lambda x, c: cam(x, class_index=c), args=inputs)

    per_replica = mirrored.experimental_local_results(step(batch))
    assert len(per_replica) == 2
    heatmaps = np.concatenate([t.numpy() for t in per_replica])
    np.testing.assert_allclose(heatmaps, _analytic_maps(model, images, classes), atol=1e-4)


def test_gradcam_constant_map_gives_zeros_and_rejects_graphless_models():
    model = _classifier()
    kernel, bias = model.get_layer("classifier").weights
    kernel.assign(np.zeros(kernel.shape, "float32"))
    heatmaps = GradCAM(model)(np.random.rand(2, 32, 32, 3).astype("float32")).numpy()
    np.testing.assert_array_equal(heatmaps, 0.0)
    with pytest.raises(ValueError, match="Sequential model 'unbuilt' is not built"):
        GradCAM(keras.Sequential([keras.layers.Dense(2)], name="unbuilt"))

    class Subclassed(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(TypeError, match="neither functional nor Sequential"):
        GradCAM(Subclassed())
