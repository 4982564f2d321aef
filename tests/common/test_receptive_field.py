"""Receptive-field centres against hand-derived cases, against the gradient
of a cell with respect to the input, and on every backbone the toolkit
offers; the lenient entry point falls back to cell centres with a note."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from common.backbones import build_backbone
from common.backbones.registry import BACKBONES
from common.receptive_field import (cell_centres, receptive_field_geometry,
                                    receptive_field_or_centres)
from fsa.network import build_squeezenet


def _gradient_maps(features, image, cells):
    """(cells, H, W): |d sum_c features[cell] / d image| summed over colours,
    one batch entry per cell (inference mode: entries do not interact)."""
    image = tf.Variable(np.repeat(image[None], len(cells), axis=0).astype("float32"))
    with tf.GradientTape() as tape:
        maps = features(image, training=False)
        value = tf.add_n([tf.reduce_sum(maps[b, y, x]) for b, (y, x) in enumerate(cells)])
    return tf.reduce_sum(tf.abs(tape.gradient(value, image)), axis=3).numpy()


def _centroid(weight):
    rows, cols = np.mgrid[0:weight.shape[0], 0:weight.shape[1]]
    return np.array([(weight * rows).sum(), (weight * cols).sum()]) / weight.sum()


def _shift(a, b, largest=64):
    """The shift s (pixels) that best aligns profile b(p + s) with a(p)."""
    scores = [np.dot(a[:len(a) - s], b[s:]) / np.linalg.norm(a[:len(a) - s])
              / np.linalg.norm(b[s:]) for s in range(largest + 1)]
    return int(np.argmax(scores))


@pytest.mark.parametrize("size, cells", [(96, 5), (224, 13)])
def test_squeezenet_cells_look_at_15_plus_16n(size, cells):
    """conv 3x3/2 (centre 1, jump 2), then three 3x3/2 max pools: 1 + 2 = 3,
    3 + 4 = 7, 7 + 8 = 15; Fire modules keep the grid."""
    geometry = receptive_field_geometry(build_squeezenet(4, (size, size, 3)), "cam")
    assert geometry.size == (cells, cells) and geometry.jump == (16, 16)
    np.testing.assert_array_equal(geometry.centres()[0], 15 + 16 * np.arange(cells))


def test_padding_and_cropping_shift_the_centres():
    inputs = keras.Input((20, 20, 3))
    x = keras.layers.ZeroPadding2D(((2, 0), (0, 0)))(inputs)  # 2 rows on top
    x = keras.layers.Conv2D(2, 3, strides=2)(x)  # centre 1 - 2 = -1 in y, 1 in x
    x = keras.layers.Cropping2D(((1, 0), (0, 1)))(x)  # drops the first row: -1 + 2
    geometry = receptive_field_geometry(keras.Model(inputs, x), None)
    assert geometry.jump == (2, 2) and geometry.start == (1.0, 1.0)


def test_unsupported_resampling_is_a_clear_error():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.UpSampling2D()(keras.layers.Conv2D(2, 3, strides=2)(inputs))
    with pytest.raises(ValueError, match="cannot derive receptive fields.*UpSampling2D"):
        receptive_field_geometry(keras.Model(inputs, x), None)


def test_tiny_backbone_centres_are_the_gradient_centroids():
    """With positive weights and no non-linearity in the way, the gradient
    of an interior cell with respect to the input is symmetric about its
    receptive-field centre, so its centroid is that centre."""
    backbone = build_backbone("tiny", (32, 32, 3))
    network = backbone.layers[-1]
    for layer in network.layers:
        if isinstance(layer, keras.layers.Conv2D):
            layer.kernel.assign(np.full(layer.kernel.shape, 0.1, "float32"))
    ys, xs = receptive_field_geometry(backbone, None).centres()
    cells = ((3, 3), (4, 2), (2, 5))  # interior cells
    maps = _gradient_maps(backbone, np.ones((32, 32, 3)), cells)
    for weight, (cy, cx) in zip(maps, cells):
        np.testing.assert_allclose(_centroid(weight), (ys[cy], xs[cx]), atol=1e-4)


def _se_sequential(size):
    """Rescaling, asymmetric zero padding, a valid strided conv, a dilated
    depthwise conv, an SE gate (GAP -> reshape -> multiply: no grid of its
    own), a strided average pool and a strided "same" conv, all positive."""
    positive = keras.initializers.Constant(0.05)
    return keras.Sequential([
        keras.Input((size, size, 3)),
        keras.layers.Rescaling(2.0, offset=0.5),
        keras.layers.ZeroPadding2D(((0, 1), (0, 1))),   # centre 0
        keras.layers.Conv2D(4, 3, strides=2, kernel_initializer=positive),  # 1, jump 2
        keras.layers.DepthwiseConv2D(3, padding="same", dilation_rate=2,
                                     depthwise_initializer=positive),  # k 5, pad 2: 1
        keras.layers.ReLU(),
        keras.layers.AveragePooling2D(2),                # 1 + 0.5 * 2 = 2, jump 4
        keras.layers.Conv2D(4, 3, strides=2, padding="same", kernel_initializer=positive,
                            name="cam"),                 # "same" pads 0 left: 2 + 4 = 6
    ], name="sequential_net")


@pytest.mark.parametrize("size", [32, 48])
def test_sequential_network_is_traced_without_changing_it(size):
    """A Sequential network is read through its own graph: the centres are
    6 + 8 n, the gradient centroids of the cells whose receptive fields
    (21 px) lie inside the image agree exactly, and no layer gained a node."""
    network = _se_sequential(size)
    nodes = [len(layer._inbound_nodes) for layer in network.layers]
    geometry, note = receptive_field_or_centres(network, "cam")
    assert note is None and geometry.jump == (8, 8) and geometry.start == (6.0, 6.0)
    assert geometry.size == (size // 8, size // 8)
    assert [len(layer._inbound_nodes) for layer in network.layers] == nodes
    cells = [(1, 1)] + ([(2, 3), (3, 2)] if size == 48 else [])
    ys, xs = geometry.centres()
    maps = _gradient_maps(network, np.ones((size, size, 3)), cells)
    for weight, (cy, cx) in zip(maps, cells):
        np.testing.assert_allclose(_centroid(weight), (ys[cy], xs[cx]), atol=1e-3)


def test_se_gates_and_merges_keep_the_grid():
    """A keepdims SE gate (1 x 1 map broadcast back), a Multiply, an Add of
    two branches of equal stride and keras.ops arithmetic keep the grid;
    the Add averages its branches' centres (1 and 1.5)."""
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same")(inputs)  # pad 0: 1, jump 2
    gate = keras.layers.GlobalAveragePooling2D(keepdims=True)(x)
    x = keras.layers.Multiply()([x, keras.layers.Conv2D(4, 1, activation="sigmoid")(gate)])
    mean = keras.ops.mean(x, axis=(1, 2), keepdims=True)
    x = keras.ops.multiply(x, mean) + 1.0
    y = keras.layers.AveragePooling2D(2, strides=2)(inputs)  # 0.5, jump 2
    x = keras.layers.Add(name="cam")([x, keras.layers.Conv2D(4, 2, padding="same")(y)])
    geometry, note = receptive_field_or_centres(keras.Model(inputs, x), "cam")
    assert note is None and geometry.jump == (2, 2) and geometry.start == (1.25, 1.25)


class _Twice(keras.layers.Layer):
    """A resize the tracer does not know."""

    def call(self, x):
        return keras.ops.repeat(keras.ops.repeat(x, 2, axis=1), 2, axis=2)


def test_untraceable_layer_falls_back_to_cell_centres_with_a_note():
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, strides=4, padding="same")(inputs)
    x = _Twice(name="twice")(x)
    x = keras.layers.Conv2D(2, 1, name="cam")(x)
    network = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))
    geometry, note = receptive_field_or_centres(network, "cam")
    assert geometry == cell_centres((16, 16), (32, 32))
    np.testing.assert_allclose(geometry.centres()[1], (np.arange(16) + 0.5) * 2 - 0.5)
    assert "\n" not in note and "'twice' (_Twice)" in note and "(8, 8) to (16, 16)" in note
    with pytest.raises(ValueError, match="'twice' \\(_Twice\\)"):
        receptive_field_geometry(network, "cam")
    with pytest.raises(ValueError, match="no layer 'nope'"):
        receptive_field_or_centres(network, "nope")


# Backbone -> (jump, first centre) at 96 px: resnet50 pads 3 / conv 7/2 and
# pads 1 / pool 3/2 (centre 0), then 1 x 1 stride-2 convs; vgg16's 2/2 pools
# add 0.5 j each; densenet121's 2/2 average pools add 2 + 4 + 8; the
# ((0, 1), (0, 1)) pads before 3/2 and 5/2 convs (mobilenet, efficientnet)
# add one jump per stride: 1 + 2 + 4 + 8 + 16; inception_v3's valid convs
# and pools reach 37; nasnet_mobile averages branches with shifted centres.
REGISTRY = {"resnet50": (32, 0.0), "vgg16": (32, 15.5), "densenet121": (32, 14.0),
            "inception_v3": (32, 37.0), "nasnet_mobile": (32, None),
            "mobilenet": (32, 31.0), "tiny": (4, 3.0), "efficientnet_lite0": (32, 31.0),
            "squeezenet1_1": (16, 15.0)}


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_every_registry_backbone_is_traced(name):
    jump, start = REGISTRY[name]
    geometry, note = receptive_field_or_centres(build_backbone(name, (96, 96, 3)), None)
    assert note is None and geometry.jump == (jump, jump)
    if start is not None:
        assert geometry.start == (start, start)


def _classifier(application, size):
    """(classifier, its feature extractor) around a keras.applications
    backbone built without an input shape: its own graph has (None, None)
    maps, so the sizes come from the classifier's input."""
    inputs = keras.Input((size, size, 3))
    features = application(include_top=False, weights=None)(inputs)
    cam = keras.layers.Conv2D(3, 1, name="cam")(features)
    network = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(cam))
    return network, keras.Model(inputs, features)


@pytest.mark.parametrize("application, start", [
    (keras.applications.ResNet50, 0.0),  # as resnet50 above
    (keras.applications.EfficientNetB0, 31.0)])  # ((0, 1), (0, 1)) pads, 3/2 and 5/2
def test_application_centres_are_the_gradient_centroids(application, start):
    """At 192 px the derived centre of one cell is the image centre (95.5):
    the centroid of that cell's input gradient (random init, a constant
    image) lies within 5 px of it and more than 10 px from the naive cell
    centre, 16 px away; neighbouring cells' gradients are the same pattern
    shifted by the 32 px jump. Off-centre cells are not compared: zero
    padding clips their effective fields unevenly and pulls their centroids
    toward the image centre (by 5 px for ResNet50, 30 px for EfficientNetB0,
    whose depthwise 5 x 5 convs at stride 32 spread over the whole image)."""
    keras.utils.set_random_seed(0)
    network, features = _classifier(application, 192)
    geometry, note = receptive_field_or_centres(network, "cam")
    assert note is None and geometry.size == (6, 6) and geometry.jump == (32, 32)
    ys = geometry.centres()[0]
    mid = int(np.argmin(np.abs(ys - 95.5)))
    maps = _gradient_maps(features, np.full((192, 192, 3), 0.5),
                          [(mid - 1, mid - 1), (mid, mid), (mid + 1, mid + 1)])
    centroid = _centroid(maps[1])
    naive = cell_centres(geometry.size, (192, 192)).centres()[0][mid]
    np.testing.assert_allclose(centroid, (ys[mid], ys[mid]), atol=5)
    assert np.all(np.abs(centroid - naive) > 10)
    for a, b in zip(maps, maps[1:]):
        for axis in (1, 0):
            assert abs(_shift(a.sum(axis), b.sum(axis)) - 32) <= 4
    assert geometry.start == (start, start)


@pytest.mark.parametrize("application, start", [
    (keras.applications.EfficientNetV2B0, 31.0),  # "same" 3/2 convs pad 0 left: + j
    (keras.applications.MobileNetV3Small, 31.0),  # ((0, 1), (0, 1)) pads, as above
    (keras.applications.ConvNeXtTiny, 15.5)])  # 4/4 stem (1.5), then 2/2: + 0.5 j
def test_nested_applications_are_traced(application, start):
    """Rescaling/Normalization, SE gates, LayerScale and Sequential
    sub-models (ConvNeXt's stem and downsampling) inside a classifier."""
    geometry, note = receptive_field_or_centres(_classifier(application, 96)[0], "cam")
    assert note is None and geometry.size == (3, 3) and geometry.jump == (32, 32)
    assert geometry.start == (start, start)
