"""Loading a model the toolkit saved, without knowing which method made it.

Keras ``safe_mode`` stays on: a ``Lambda`` layer carrying Python code is
refused, never run. Any file Keras cannot load is one ValueError line
naming it.
"""

import importlib
import json
import zipfile

from common.errors import summary

# The toolkit's packages: a .keras file names the modules of its custom
# layers, and those of these packages are imported before loading.
PACKAGES = ("common", "agnet", "fsa", "distraction", "fam")


def _modules(config):
    """Module names recorded in a Keras object config, recursively."""
    found = set()
    if isinstance(config, dict):
        if isinstance(config.get("module"), str):
            found.add(config["module"])
        for value in config.values():
            found |= _modules(value)
    elif isinstance(config, list):
        for value in config:
            found |= _modules(value)
    return found


def load_model(path, **kwargs):
    """``keras.saving.load_model(path)`` after importing the toolkit modules
    that define the file's layers (named in its ``config.json``), so a fresh
    process needs no import beforehand. ``kwargs`` go to Keras."""
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as error:
        raise ValueError(f"--model: '{path}' is not a .keras model file: {error}") from error
    try:
        for module in sorted(_modules(config)):
            if module.split(".")[0] in PACKAGES:
                importlib.import_module(module)
        import keras
        return keras.saving.load_model(path, **kwargs)
    except Exception as error:  # Keras raises any type on a bad config; it said why
        raise ValueError(f"--model: '{path}' could not be loaded: {summary(error)}") from error
