"""Receptive-field centres against hand-derived cases and against the
gradient of a cell with respect to the input."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from common.backbones import build_backbone
from common.receptive_field import receptive_field_geometry
from fsa.network import build_squeezenet


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
    geometry = receptive_field_geometry(backbone, None)
    ys, xs = geometry.centres()
    image = tf.Variable(np.ones((1, 32, 32, 3), "float32"))
    for cy, cx in ((3, 3), (4, 2), (2, 5)):  # interior cells
        with tf.GradientTape() as tape:
            value = backbone(image, training=False)[0, cy, cx, 0]
        weight = tf.reduce_sum(tf.abs(tape.gradient(value, image)), axis=(0, 3)).numpy()
        rows, cols = np.mgrid[0:32, 0:32]
        centroid = ((weight * rows).sum() / weight.sum(), (weight * cols).sum() / weight.sum())
        np.testing.assert_allclose(centroid, (ys[cy], xs[cx]), atol=1e-4)
