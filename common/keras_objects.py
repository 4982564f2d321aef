"""The toolkit's Keras objects, known by name before Keras loads.

``import common`` must make ``keras.saving.load_model`` find every class a
toolkit model holds, the way ``import keras_hub`` does, yet importing a
package must not import TensorFlow: the commands answer ``--help`` before
it loads. So importing ``common`` registers, as soon as Keras is imported
(at once if it already is), a stand-in under each registered name of every
class listed in the entry-point group ``attention_guided.keras_objects``
(``"module.Class" = "module:Class"``; the toolkit's own in pyproject.toml),
read from the entry points' text: nothing is imported to register them,
so registering works while a package is half imported. A stand-in's
``from_config`` imports the module that defines the real class (whose
decorator then registers the real class in its place) and builds that.
``tests/test_keras_objects.py`` checks the group against the decorated
classes.
"""

import importlib
import importlib.abc
import importlib.util
import sys

from common.entry_points import group_entry_points

GROUP = "attention_guided.keras_objects"


def classes():
    """module -> names of the Keras classes it registers, from the group's
    entry points (``"module.Class" = "module:Class"``), read without
    importing anything: registering runs while Keras (and maybe the
    package naming them) is still being imported."""
    found = {}
    for point in group_entry_points(GROUP).values():
        found.setdefault(point.module, []).append(point.attr)
    return found


def packages():
    """The packages whose modules a .keras file may name to be imported
    (common.saving): those the group's classes are in."""
    return {module.split(".")[0] for module in classes()} | {"common"}


def registered_name(module, name):
    return f"{module.split('.')[0]}>{name}"


def _stand_in(module, name):
    def from_config(cls, config):
        return getattr(importlib.import_module(module), name).from_config(config)

    return type(name, (), {
        "__doc__": f"Stands in for {module}.{name} until that module is imported.",
        "__module__": __name__, "from_config": classmethod(from_config),
        "get_config": lambda self: {}})


def register(keras):
    """Registers a stand-in for each name not registered yet."""
    custom = keras.saving.get_custom_objects()
    for module, names in classes().items():
        for name in names:
            custom.setdefault(registered_name(module, name), _stand_in(module, name))


class _AfterKerasImport(importlib.abc.MetaPathFinder):
    """Calls ``register`` right after the module ``keras`` has executed."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            register(module)
        spec.loader.exec_module = exec_module
        return spec


def register_when_keras_loads():
    if "keras" in sys.modules and hasattr(sys.modules["keras"], "saving"):
        register(sys.modules["keras"])
    elif not any(isinstance(finder, _AfterKerasImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterKerasImport())
