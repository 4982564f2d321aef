"""``common.keras_objects``: its table names exactly the toolkit's
registered Keras classes, and a stand-in builds the real class."""

import importlib
import inspect
import os
import re

import keras

from common import keras_objects

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DECORATED = re.compile(r"@keras\.saving\.register_keras_serializable\(package=\"(\w+)\"\)\s*"
                       r"\nclass (\w+)")


def test_the_table_names_every_registered_class_of_the_toolkit_and_nothing_else():
    found = {}
    for package in ("common", "agnet", "fsa", "distraction", "fam"):
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    module = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                    for registered_package, cls in DECORATED.findall(open(path).read()):
                        assert registered_package == package, (module, cls)
                        found.setdefault(module, []).append(cls)
    assert {m: sorted(c) for m, c in found.items()} == \
        {m: sorted(c) for m, c in keras_objects.OBJECTS.items()}
    for module, names in keras_objects.OBJECTS.items():  # and they are what Keras holds
        for name in names:
            real = getattr(importlib.import_module(module), name)
            assert keras.saving.get_registered_object(
                keras_objects.registered_name(module, name)) is real


def test_a_stand_in_imports_its_module_and_builds_the_real_layer():
    module, name = "common.layers", "GapGmpPooling"
    stand_in = keras_objects._stand_in(module, name)
    layer = stand_in.from_config({"name": "pool"})
    assert type(layer) is getattr(importlib.import_module(module), name)
    assert layer.name == "pool" and not inspect.isabstract(type(layer))
