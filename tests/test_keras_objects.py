"""``common.keras_objects``: the tables of the entry-point group name exactly
the toolkit's registered Keras classes, a stand-in builds the real class,
and a package that is not the toolkit's registers its own layers the same
way: its model loads in a fresh process after ``import common`` alone."""

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
    merged = keras_objects.classes()
    assert keras_objects.packages() == {"agnet", "common", "distraction", "fam", "fsa"}
    assert {m: sorted(c) for m, c in found.items()} == {m: sorted(c) for m, c in merged.items()}
    for module, names in merged.items():  # and they are what Keras holds
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


LAYER = """
import keras


@keras.saving.register_keras_serializable(package="mine")
class Doubling(keras.layers.Layer):
    def call(self, x):
        return 2.0 * x
"""


def test_a_users_package_registers_its_layers_through_the_same_group(tmp_path):
    from tests.fresh_process import python_process
    site = tmp_path / "site"
    info = site / "mine-0.1.dist-info"
    info.mkdir(parents=True)
    (site / "mine").mkdir()
    (site / "mine" / "__init__.py").write_text("")
    (site / "mine" / "layers.py").write_text(LAYER)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mine\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[attention_guided.keras_objects]\nmine.layers.Doubling = mine.layers:Doubling\n")
    path = tmp_path / "doubling.keras"
    save = f"""
import keras
from mine.layers import Doubling
inputs = keras.Input((3,))
keras.Model(inputs, Doubling()(inputs)).save(r"{path}")
"""
    assert python_process("-c", save, path=[site]).returncode == 0
    for load in ("import common, keras; load = keras.saving.load_model",
                 "from common.saving import load_model as load"):
        done = python_process("-c", f"""{load}
import sys, numpy as np
assert "mine.layers" not in sys.modules
model = load(r"{path}")
assert type(model.layers[-1]).__module__ == "mine.layers"
print(model.predict(np.array([[1.0, 2.0, 3.0]]), verbose=0).tolist())
""", path=[site])
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.strip().splitlines()[-1] == "[[2.0, 4.0, 6.0]]"
    # without the entry point the same file is Keras's own refusal
    (info / "entry_points.txt").write_text("")
    done = python_process("-c", f"import common, keras; keras.saving.load_model(r'{path}')",
                          path=[site])
    assert done.returncode != 0 and "Doubling" in done.stderr


def test_an_installed_distribution_counts_over_a_stale_egg_info_before_it(tmp_path):
    """A build leaves ``*.egg-info`` in a source checkout; after pyproject.toml
    changes it is stale. Ahead of the installed ``.dist-info`` on the path it
    neither hides nor adds entry points (``common.entry_points``)."""
    from tests.fresh_process import python_process
    stale, installed = tmp_path / "checkout", tmp_path / "site"
    (stale / "mine.egg-info").mkdir(parents=True)
    (stale / "mine.egg-info" / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: mine\n")
    (stale / "mine.egg-info" / "entry_points.txt").write_text(
        "[attention_guided.guides]\nold = mine:Old\nkept = mine:OldKept\n")
    (installed / "mine-0.1.dist-info").mkdir(parents=True)
    (installed / "mine-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: mine\nVersion: 0.1\n")
    (installed / "mine-0.1.dist-info" / "entry_points.txt").write_text(
        "[attention_guided.guides]\nkept = mine:Kept\n")
    done = python_process("-c", """
from common.entry_points import group_entry_points
points = group_entry_points("attention_guided.guides")
print(sorted((n, p.value) for n, p in points.items() if p.value.startswith("mine:")))
""", path=[stale, installed])
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[('kept', 'mine:Kept')]"
