"""Classifiers that take more than the image, for the commands that explain
and evaluate any saved classifier (``attention-explain``,
``attention-evaluate``).

A model whose other inputs are computed from the image (AG-Net's regions)
is reached through an *input maker* that the package defining its layers
registers under the entry-point group ``attention_guided.model_inputs``,
named for the package it registers its Keras objects with
(``keras.saving.register_keras_serializable(package=NAME)``; a saved
config.json records every such object as ``"NAME>Class"``), so ``common``
names no package:

```toml
[project.entry-points."attention_guided.model_inputs"]
mypackage = "mypackage.inputs:MyInputs"
```

The class is imported before TensorFlow loads (a model no installed
package can feed is refused then) and declares:

- ``inputs``: the model's input names; ``image``: the image's among them;
- ``image_maps``: the names of ``common.cam_methods.MAP_SOURCES`` that work
  on its image input (Grad-CAM and its variants read ``feature_layer``);
- ``maps``: {name: description} of its own map sources;
- ``__init__(model, settings)``: the loaded model and the run's
  ``config.yaml`` beside it (a dict, empty without one);
- ``feature_layer``: the layer Grad-CAM and its variants read;
- ``file_inputs(paths, verbose)``: {name: array (N, ...)}, the other inputs
  of those image files, as the model's trainer computed them;
- ``map_source(name)``: ``f(inputs, class_index) -> (B, H, W)`` in [0, 1].

``ImageClassifier`` puts any loaded classifier behind one interface:
images (B, H, W, 3) in [0, 1] plus the other inputs, which stay the
image's own when the image is perturbed (deletion, insertion): the maps
explain the image given them.
"""

import os

from common.errors import argument_errors

GROUP = "attention_guided.model_inputs"


def input_names(config):
    """The input names of a saved model's config.json (a dict), in order;
    a Sequential or subclassed model counts as one input."""
    inner = config.get("config") if isinstance(config, dict) else None
    layers = inner.get("input_layers") if isinstance(inner, dict) else None
    if isinstance(layers, dict):
        return list(layers)
    if isinstance(layers, list) and layers and isinstance(layers[0], list):
        return [str(entry[0]) for entry in layers]
    if isinstance(layers, list) and layers:
        return [str(layers[0])]
    return ["input"]


def registered_packages(config):
    """The packages of the Keras objects a config.json names (``"NAME>Class"``)."""
    found, stack = set(), [config]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            name = value.get("registered_name")
            if isinstance(name, str) and ">" in name:
                found.add(name.split(">", 1)[0])
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


def model_packages(model):
    """The packages of the Keras objects of a loaded model, nested models too."""
    import keras
    found, stack = set(), [model]
    while stack:
        layer = stack.pop()
        name = keras.saving.get_registered_name(type(layer))
        if ">" in name:
            found.add(name.split(">", 1)[0])
        stack.extend(getattr(layer, "layers", []))
    return found


def makers():
    """name -> entry point of ``GROUP`` (``common.entry_points``)."""
    from common.entry_points import group_entry_points
    return group_entry_points(GROUP)


def find_maker(names, packages, where):
    """The input maker class of a model with inputs ``names`` whose objects
    are registered with ``packages``: None for a single-input model, else
    the maker of one of those packages that computes exactly these inputs;
    ValueError when no installed package does."""
    if len(names) == 1:
        return None
    points = makers()
    offered = [name for name in sorted(packages) if name in points]
    for name in offered:
        maker = points[name].load()
        if sorted(maker.inputs) == sorted(names):
            return maker
    said = (f"; package {', '.join(offered)} computes other inputs" if offered else
            f" (entry-point group {GROUP})")
    raise ValueError(f"{where} takes {len(names)} inputs ({', '.join(names)}) and no installed "
                     f"package computes them from an image{said}: only image classifiers "
                     "are explained")


@argument_errors("path")
def maker_of_file(path):
    """``find_maker`` for a .keras file, read without loading TensorFlow."""
    from common.saving import read_config
    config = read_config(path)
    return find_maker(input_names(config), registered_packages(config), f"'{path}'")


def run_settings(model_path):
    """The config.yaml of the run that saved the model (a dict), else {}."""
    from common.io import read_yaml
    path = os.path.join(os.path.dirname(os.path.abspath(model_path)), "config.yaml")
    settings = read_yaml(path) if os.path.isfile(path) else None
    return settings if isinstance(settings, dict) else {}


def map_names(maker, generic):
    """The map sources a model offers: ``generic`` (for a model with a maker,
    those its maker names) and its maker's own."""
    if maker is None:
        return tuple(generic)
    return tuple(n for n in generic if n in maker.image_maps) + tuple(maker.maps)


class ImageClassifier:
    """A loaded classifier seen as images -> class scores.

    ``ImageClassifier(model)`` finds the model's input maker by the
    packages of its layers (``maker`` and ``settings`` to give them).
    ``file_inputs(paths)`` are the other inputs of image files ({} for a
    single-input model); ``scores(images, other)`` and
    ``probabilities(images, other)`` take (B, H, W, 3) images and those
    inputs of the same B rows.
    """

    def __init__(self, model, maker=None, settings=None):
        self.named = {tensor.name: tensor for tensor in model.inputs}  # Input names
        if maker is None:
            maker = find_maker(list(self.named), model_packages(model), f"model '{model.name}'")
        self.model = model
        self.maker = maker(model, settings or {}) if maker is not None else None
        image = self.named[maker.image] if maker is not None else model.inputs[0]
        self.image_size = tuple(image.shape[1:3])
        if len(image.shape) != 4 or None in self.image_size:
            raise ValueError(f"model '{model.name}' does not take images of a fixed size")
        self.other = [n for n in maker.inputs if n != maker.image] if maker else []

    @property
    def num_classes(self):
        return self.model.outputs[0].shape[-1]

    def file_inputs(self, paths, verbose=1):
        """{name: array (N, ...)}: the other inputs of the image files."""
        return self.maker.file_inputs(list(paths), verbose) if self.maker else {}

    def other_specs(self):
        """{name: tf.TensorSpec} of the other inputs, any batch size."""
        import tensorflow as tf
        return {name: tf.TensorSpec((None, *self.named[name].shape[1:]),
                                    self.named[name].dtype) for name in self.other}

    def inputs(self, images, other=None):
        if self.maker is None:
            return images
        return {self.maker.image: images, **{name: other[name] for name in self.other}}

    def scores(self, images, other=None):
        """The model's outputs (B, K), float32, in inference mode."""
        from common.chunked import call_model
        return call_model(self.model, self.inputs(images, other))

    def probabilities(self, images, other=None):
        """Class probabilities (B, K): the outputs, or their softmax for logits."""
        import tensorflow as tf
        if not hasattr(self, "_logits"):
            from common.cam_sources import output_kind
            try:
                self._logits = output_kind(self.model) == "logits"
            except (ValueError, AttributeError):
                self._logits = False
        scores = self.scores(images, other)
        return tf.nn.softmax(scores, axis=-1) if self._logits else scores

    def map_names(self, generic):
        return map_names(type(self.maker) if self.maker else None, generic)

    def map_source(self, name, layer=None):
        """``f(images, other, class_index) -> (B, H, W)`` maps in [0, 1] of
        source ``name``: the maker's own, or ``common.cam_methods``'s (for a
        model with a maker, on its ``feature_layer`` unless ``layer``)."""
        from common.cam_methods import MAP_SOURCES
        if self.maker is None:
            source = MAP_SOURCES[name](self.model, layer)
        elif name in self.maker.maps:
            source = self.maker.map_source(name)
        elif name in self.maker.image_maps:
            source = MAP_SOURCES[name](self.model, layer or self.maker.feature_layer)
        else:
            raise ValueError(f"model '{self.model.name}' ({', '.join(self.maker.inputs)} in) "
                             f"offers the maps {list(self.map_names(MAP_SOURCES))}, not "
                             f"{name!r}")
        return lambda images, other=None, class_index=None: source(
            self.inputs(images, other), class_index=class_index)
