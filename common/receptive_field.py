"""Where each cell of a feature map looks: the centres of the receptive
fields of a layer's output cells, in input pixel coordinates (pixel i's
centre at i), derived from the network's own kernels, strides and paddings.

Receptive-field arithmetic per axis: a layer with kernel k (dilated:
d (k - 1) + 1), stride s and left padding p maps ``(jump, start)`` to
``(jump * s, start + ((k - 1) / 2 - p) * jump)``; the centre of output cell
n is ``start + n * jump``. TensorFlow's "same" padding puts
``max((out - 1) s + k - in, 0) // 2`` pixels on the left.

The derivation walks the network's recorded graph (each symbolic tensor's
``keras_compat.producing_node``) rather than re-calling its layers, so it reads
functional and Sequential networks and the models nested in them (a
keras.applications backbone inside a classifier) without changing them.
``receptive_field_or_centres`` is the lenient entry point: where a layer
cannot be traced it falls back to the cell centres and says why.
"""

import collections
import dataclasses

import keras
import numpy as np

from common.cam import find_layer
from common.keras_compat import producing_node

_WINDOWED = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D,
             keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
_GLOBAL = (keras.layers.GlobalAveragePooling2D, keras.layers.GlobalMaxPooling2D)

# A tensor whose geometry could not be derived, and why (one line).
_Untraced = collections.namedtuple("_Untraced", "note")


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


def cell_centres(grid_size, input_size):
    """The geometry that assumes each of ``grid_size`` cells looks at the
    centre of its share of the image: cell n at ``(n + 0.5) S / g - 0.5``
    (the fallback where the real receptive fields cannot be derived)."""
    jumps = tuple(float(s) / g for s, g in zip(input_size, grid_size))
    return Geometry(jumps, tuple(0.5 * j - 0.5 for j in jumps), tuple(grid_size))


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
    (``inputs``: list of (Geometry or None, symbolic tensor)); None for a
    non-spatial output; ValueError where it cannot be derived."""
    spatial = [(g, t) for g, t in inputs if g is not None]
    out_size = _spatial_size(keras.tree.flatten(outputs)[0])
    if not spatial or out_size is None or isinstance(layer, _GLOBAL):
        return None  # not a spatial map (pooled vectors, SE gates, boxes, ...)
    geometry = spatial[0][0]
    if isinstance(layer, _WINDOWED):
        return _windowed(layer, geometry, out_size)
    if isinstance(layer, keras.layers.ZeroPadding2D):
        return _shifted(geometry, [-p[0] for p in layer.padding], out_size)
    if isinstance(layer, keras.layers.Cropping2D):
        return _shifted(geometry, [c[0] for c in layer.cropping], out_size)
    if out_size == (1, 1) and geometry.size != (1, 1):
        return None  # a map reduced to one cell (keepdims mean/max): a gate, not a grid
    if out_size != (1, 1):  # broadcast (1, 1) gates of an SE block carry no grid
        spatial = [(g, t) for g, t in spatial if g.size != (1, 1)] or spatial
        geometry = spatial[0][0]
    if out_size != geometry.size:
        raise ValueError(f"cannot derive receptive fields through layer '{layer.name}' "
                         f"({type(layer).__name__}), which changes the map size from "
                         f"{geometry.size} to {out_size}")
    jumps = {g.jump for g, _ in spatial}
    if len(jumps) > 1:
        raise ValueError(f"layer '{layer.name}' ({type(layer).__name__}) merges maps of "
                         f"different strides {sorted(jumps)}")
    # Pointwise layers and merges keep the grid (branches: the mean centre).
    starts = tuple(float(np.mean([g.start[axis] for g, _ in spatial])) for axis in range(2))
    return Geometry(geometry.jump, starts, out_size)


def _has_graph(layer):
    """A functional model or a built Sequential: both record their graph."""
    if not isinstance(layer, keras.Model):
        return False
    try:
        return bool(layer.inputs) and bool(layer.outputs)
    except (AttributeError, ValueError):
        return False


def _nodes_in_order(model, known):
    """The nodes between ``model``'s inputs (ids in ``known``) and outputs,
    each after the nodes it reads from (iterative: deep nets would overflow
    Python's recursion limit)."""
    order, done, stack = [], set(), [(t, False) for t in model.outputs]
    while stack:
        tensor, expanded = stack.pop()
        node = None if id(tensor) in known else producing_node(tensor)
        if node is None or id(node) in done or node.is_input:
            continue
        if expanded:
            done.add(id(node))
            order.append(node)
            continue
        stack.append((tensor, True))
        stack.extend((t, False) for t in node.input_tensors)
    return order


def _output_specs(node, inputs):
    """The node's outputs at the sizes its inputs really have: a model
    nested without an input shape records (None, None) maps, so its layers'
    shapes are inferred again (``compute_output_spec``, which adds no node)."""
    if all(spec.shape == t.shape for (_, spec), t in zip(inputs, node.input_tensors)):
        return node.output_tensors
    args, kwargs = node.arguments.fill_in(
        {id(t): spec for (_, spec), t in zip(inputs, node.input_tensors)})
    return keras.tree.flatten(node.operation.compute_output_spec(*args, **kwargs))


def _call(node, inputs):
    """[(Geometry / None / _Untraced, output spec)] of one layer call."""
    op = node.operation
    untraced = [g for g, _ in inputs if isinstance(g, _Untraced)]
    try:
        outputs = _output_specs(node, inputs)
    except (ValueError, TypeError, AttributeError, NotImplementedError) as error:
        outputs, untraced = node.output_tensors, untraced or [_Untraced(
            f"cannot infer the output size of layer '{op.name}' ({type(op).__name__}): "
            + " ".join(str(error).split())[:160])]
    try:
        geometry = untraced[0] if untraced else layer_geometry(op, inputs, outputs)
    except (ValueError, TypeError, AttributeError) as error:
        geometry = _Untraced(" ".join(str(error).split()))
    if _spatial_size(outputs[0]) is None:
        geometry = None
    return [(geometry, spec) for spec in outputs]


def _walk(model, inputs, target, found):
    """[(geometry, spec)] of ``model``'s outputs from its inputs' (the real
    sizes travel with the geometries); appends (geometry, grid size) of each
    call of ``target`` to ``found``."""
    known = {id(t): item for t, item in zip(model.inputs, inputs)}
    for node in _nodes_in_order(model, known):
        inputs = [known.get(id(t), (None, t)) for t in node.input_tensors]
        if _has_graph(node.operation):
            results = _walk(node.operation, inputs, target, found)
        else:
            results = _call(node, inputs)
        for tensor, item in zip(node.output_tensors, results):
            known[id(tensor)] = item
        if node.operation is target:
            found.append((results[0][0], _spatial_size(results[0][1])))
    return [known.get(id(t), (None, t)) for t in model.outputs]


def _find(network, layer):
    """The layer ``layer`` names (name, object, or None: the last top-level
    layer with a 4-D output), in nested functional and Sequential models."""
    if layer is None:
        return find_layer(network, None)
    queue = [network]
    while queue:
        model = queue.pop(0)
        for candidate in model.layers:
            if candidate is layer or candidate.name == layer:
                return candidate
            if isinstance(candidate, keras.Model):
                queue.append(candidate)
    name = layer if isinstance(layer, str) else getattr(layer, "name", layer)
    raise ValueError(f"no layer '{name}' in network '{network.name}' or the models "
                     "nested in it")


def _trace(network, layer):
    """(target layer, its geometry, Geometry / None / _Untraced, its grid size)."""
    target = _find(network, layer)
    if not _has_graph(network):
        raise ValueError(f"receptive fields need a functional or built Sequential network; "
                         f"'{network.name}' ({type(network).__name__}) has no recorded "
                         "graph (build it on keras.Input first)")
    size = tuple(network.inputs[0].shape[1:3])
    if len(network.inputs[0].shape) != 4 or None in size:
        raise ValueError(f"receptive fields need a fixed image size; network "
                         f"'{network.name}' takes inputs of shape {network.inputs[0].shape}")
    found = []
    image = Geometry((1.0, 1.0), (0.0, 0.0), size)
    _walk(network, [(image if i == 0 else None, t) for i, t in enumerate(network.inputs)],
          target, found)
    geometry, grid = found[0] if found else (None, None)
    return target, size, geometry, grid


def receptive_field_geometry(network, layer):
    """``Geometry`` of the output cells of ``layer`` (a name or layer of
    ``network``, possibly inside nested models; None: the last layer with a
    4-D output); ValueError where a layer cannot be traced."""
    target, _, geometry, _ = _trace(network, layer)
    if isinstance(geometry, _Untraced):
        raise ValueError(geometry.note)
    if geometry is None:
        raise ValueError(f"layer '{target.name}' of '{network.name}' has no spatial output "
                         "reachable from the image input")
    return geometry


def receptive_field_or_centres(network, layer):
    """(Geometry, note): the derived receptive-field centres and None, or,
    where a layer cannot be traced (an unknown layer that resizes the map),
    the cell centres (``cell_centres``) and a one-line note that says why.
    ValueError only for a missing layer, an image size that is not fixed,
    or a layer without a spatial output."""
    target, size, geometry, grid = _trace(network, layer)
    if isinstance(geometry, Geometry):
        return geometry, None
    if grid is None or None in grid:
        raise ValueError(f"layer '{target.name}' of '{network.name}' has no spatial output "
                         "of a fixed size")
    why = (geometry.note if isinstance(geometry, _Untraced) else
           f"layer '{target.name}' does not derive from the image input")
    return cell_centres(grid, size), f"{why}; using the cell centres"
