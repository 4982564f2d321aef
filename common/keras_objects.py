"""The toolkit's Keras objects, known by name before Keras loads.

``import common`` (and so ``import agnet``, ``import fsa``, ...) must make
``keras.saving.load_model`` find every class a toolkit model holds, the way
``import keras_hub`` does, yet importing a package must not import
TensorFlow: the commands answer ``--help`` before it loads. So importing
``common`` registers, as soon as Keras is imported (at once if it already
is), a stand-in under each registered name below. A stand-in's
``from_config`` imports the module that defines the real class (whose
decorator then registers the real class in its place) and builds that.
Nothing is imported while another import is half done, so no import cycle
can arise. ``tests/test_keras_objects.py`` checks this table against the
decorated classes.
"""

import importlib
import importlib.abc
import importlib.util
import sys

# module -> the classes it registers with
# ``keras.saving.register_keras_serializable(package=<its top-level package>)``
OBJECTS = {
    "common.backbones.preprocessing": ("BackbonePreprocessing",),
    "common.layers": ("SelfAttention2D", "SEResidual", "GapGmpPooling", "MemoryRead"),
    "common.data.augment": ("RandomBrightnessScale",),
    "common.classifier": ("GuidedClassifier",),
    "common.guidance": ("HomogeneousNegativeCam", "BoxEnergy"),
    "common.input_gradient": ("InputGradientPenalty",),
    "common.counterexamples": ("Counterexamples",),
    "common.gradcam_penalty": ("GradCamPenalty",),
    "common.hint": ("Hint",),
    "agnet.layers": ("RegionPooling", "RegionSEResidual", "InterRegionAttention",
                     "RegionImportance"),
    "fsa.model": ("FsaModel",),
    "fsa.guide": ("ForcedSpatialAttention",),
    "distraction.model": ("DistractionModel",),
    "distraction.guide": ("GradCamOcclusion",),
    "fam.model": ("PartPooling", "PartImportance", "FamModel"),
    "fam.guide": ("FamRegularisers",),
}


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
    for module, names in OBJECTS.items():
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
