"""Bringing your own network: a builder or a ``.keras`` file named on the
command line, and an input-range adapter for backbones that expect [0, 255]."""

import importlib
import os
import sys

import keras

from common.errors import ArgumentError, named_by

INPUT_RANGES = ("0-1", "0-255")


def with_input_range(network, input_range="0-255", name=None):
    """``network`` behind a ``Rescaling`` layer, so the classifier takes the
    toolkit's [0, 1] images while the network sees ``input_range`` (e.g.
    keras.applications EfficientNetV2, MobileNetV3 and ConvNeXt with their
    built-in preprocessing expect [0, 255]). Shares the network's weights;
    "0-1" returns it unchanged."""
    if input_range not in INPUT_RANGES:
        raise ArgumentError(f"expected one of {INPUT_RANGES}, got {input_range!r}",
                            "input_range")
    if input_range == "0-1":
        return network
    inputs = keras.Input(network.inputs[0].shape[1:], name="image")
    scaled = keras.layers.Rescaling(255.0, name="to_0_255")(inputs)
    return keras.Model(inputs, network(scaled), name=name or f"{network.name}_0_1")


def load_network(spec, input_shape, num_classes):
    """The network that ``spec`` (``--network``) names: ``package.module:function`` (called
    with ``input_shape`` and ``num_classes``; found on the path or in the
    current folder, as ``python -m`` finds it) or a ``.keras`` file. Checks
    that it takes ``input_shape`` images and returns ``num_classes`` scores."""
    if str(spec).endswith(".keras"):
        if not os.path.isfile(spec):
            raise ArgumentError(f"no file '{spec}'", "spec")
        from common.saving import load_model
        with named_by("spec", "path"):
            network = load_model(spec)
    else:
        module_name, _, function = str(spec).partition(":")
        if not module_name or not function:
            raise ArgumentError(f"expected 'package.module:function' or a .keras file, "
                                f"got {spec!r}", "spec")
        if os.getcwd() not in sys.path and "" not in sys.path:
            sys.path.insert(0, os.getcwd())  # mymod.py beside the user, as python -m finds it
        try:
            builder = getattr(importlib.import_module(module_name), function)
        except (ImportError, AttributeError) as error:
            raise ArgumentError(f"cannot import '{spec}' ({error})", "spec") from None
        network = builder(input_shape=tuple(input_shape), num_classes=int(num_classes))
    if not isinstance(network, keras.Model):
        raise ArgumentError(f"'{spec}' gave a {type(network).__name__}, not a "
                            "keras.Model", "spec")
    got_in = tuple(network.inputs[0].shape[1:]) if network.inputs else None
    got_out = network.outputs[0].shape[-1] if network.outputs else None
    if got_in != tuple(input_shape) or got_out != num_classes:
        raise ArgumentError(f"'{spec}' takes {got_in} and returns {got_out} scores; this "
                            f"run needs {tuple(input_shape)} images (input_shape) and "
                            f"{num_classes} classes", "spec")
    return network
