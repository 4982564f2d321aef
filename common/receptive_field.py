"""Where each cell of a feature map looks: the centres of the receptive
fields of a layer's output cells, in input pixel coordinates (pixel i's
centre at i), derived from the network's own kernels, strides and paddings.

Receptive-field arithmetic per axis: a layer with kernel k (dilated:
d (k - 1) + 1), stride s and left padding p maps ``(jump, start)`` to
``(jump * s, start + ((k - 1) / 2 - p) * jump)``; the centre of output cell
n is ``start + n * jump``. TensorFlow's "same" padding puts
``max((out - 1) s + k - in, 0) // 2`` pixels on the left.
"""

import dataclasses

import keras
import numpy as np

from common.cam import find_layer, is_functional

_WINDOWED = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D,
             keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)


@dataclasses.dataclass(frozen=True)
class Geometry:
    """Per axis (y, x): distance between neighbouring cells' centres in
    input pixels (``jump``), the first cell's centre (``start``) and the
    number of cells (``size``)."""

    jump: tuple
    start: tuple
    size: tuple

    def centres(self):
        """(centres along y, centres along x) in input pixels."""
        return tuple(start + jump * np.arange(size)
                     for start, jump, size in zip(self.start, self.jump, self.size))


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _windowed(layer, geometry, out_size):
    kernel = _pair(getattr(layer, "pool_size", None) or layer.kernel_size)
    dilation = _pair(getattr(layer, "dilation_rate", 1))
    strides = _pair(layer.strides)
    jumps, starts = [], []
    for axis in range(2):
        k = dilation[axis] * (kernel[axis] - 1) + 1
        pad = 0
        if layer.padding == "same":
            pad = max((out_size[axis] - 1) * strides[axis] + k - geometry.size[axis], 0) // 2
        jumps.append(geometry.jump[axis] * strides[axis])
        starts.append(geometry.start[axis] + ((k - 1) / 2 - pad) * geometry.jump[axis])
    return Geometry(tuple(jumps), tuple(starts), out_size)


def _shifted(geometry, offsets, out_size):
    """Zero padding (negative offsets) or cropping (positive) of the map."""
    starts = tuple(s + o * j for s, o, j in zip(geometry.start, offsets, geometry.jump))
    return Geometry(geometry.jump, starts, out_size)


def _spatial_size(tensor):
    shape = tensor.shape
    return tuple(shape[1:3]) if len(shape) == 4 else None


def layer_geometry(layer, inputs, outputs):
    """Output geometry of one layer call from its inputs' geometries
    (``inputs``: list of (Geometry or None, symbolic tensor))."""
    spatial = [(g, t) for g, t in inputs if g is not None]
    out_size = _spatial_size(keras.tree.flatten(outputs)[0])
    if not spatial or out_size is None:
        return None  # not a spatial map (pooled vectors, boxes, ...)
    geometry = spatial[0][0]
    if isinstance(layer, _WINDOWED):
        return _windowed(layer, geometry, out_size)
    if isinstance(layer, keras.layers.ZeroPadding2D):
        return _shifted(geometry, [-p[0] for p in layer.padding], out_size)
    if isinstance(layer, keras.layers.Cropping2D):
        return _shifted(geometry, [c[0] for c in layer.cropping], out_size)
    if out_size != geometry.size:
        raise ValueError(f"cannot derive receptive fields through layer '{layer.name}' "
                         f"({type(layer).__name__}), which changes the map size from "
                         f"{geometry.size} to {out_size}")
    jumps = {g.jump for g, _ in spatial}
    if len(jumps) > 1:
        raise ValueError(f"layer '{layer.name}' merges maps of different strides {jumps}")
    # Pointwise layers and merges keep the grid (branches: the mean centre).
    starts = tuple(np.mean([g.start[axis] for g, _ in spatial]) for axis in range(2))
    return Geometry(geometry.jump, starts, out_size)


def _trace(model, input_geometry, target, found):
    """Geometry of ``model``'s outputs; records ``target``'s in ``found``."""
    known = {}

    def geometry_of(tensor):
        if id(tensor) not in known and _spatial_size(tensor) is not None:
            known[id(tensor)] = input_geometry  # a model input
        return known.get(id(tensor))

    def call_function(op, *args, **kwargs):
        tensors = [t for t in keras.tree.flatten((args, kwargs)) if isinstance(
            t, keras.KerasTensor)]
        inputs = [(geometry_of(t), t) for t in tensors]
        outputs = op(*args, **kwargs)
        if is_functional(op):
            geometry = _trace(op, next((g for g, _ in inputs if g is not None), None),
                              target, found)
        else:
            geometry = layer_geometry(op, inputs, outputs)
        for tensor in keras.tree.flatten(outputs):
            known[id(tensor)] = geometry
        if op is target:
            found.append(geometry)
        return outputs

    clone = keras.models.clone_model(model, clone_function=lambda op: op,
                                     call_function=call_function)
    return geometry_of(clone.outputs[0])


def receptive_field_geometry(network, layer):
    """``Geometry`` of the output cells of ``layer`` (a name or layer of
    functional ``network``, possibly inside nested models)."""
    target = find_layer(network, layer)
    shape = network.inputs[0].shape
    found = []
    _trace(network, Geometry((1.0, 1.0), (0.0, 0.0), tuple(shape[1:3])), target, found)
    if not found or found[0] is None:
        raise ValueError(f"layer '{target.name}' of '{network.name}' has no spatial output "
                         "reachable from the image input")
    return found[0]
