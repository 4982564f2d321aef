"""Loading a model the toolkit saved, without knowing which method made it.

Keras ``safe_mode`` stays on: a ``Lambda`` layer carrying Python code is
refused, never run. Any file Keras cannot load is one ValueError line
naming it. What the file declares is bounded before anything is allocated:
its config.json's size and nesting, its members' sizes against the
archive's, its weights' arrays against the weights' bytes, and the
variables its layers create against what its weights hold.
"""

import importlib
import json
import zipfile
import zlib

from common.errors import argument_errors, summary

# A toolkit model's config is tens of KiB, nested 18 levels; FSA's masks
# (classes x masks x grid values) make the largest. Keras reads config.json
# whole with no bound below 4 GiB.
CONFIG_MAX_BYTES = 64 << 20
CONFIG_MAX_DEPTH = 100
# Variables a model may create, against the bytes its weights declare: its
# own (saved) plus an optimizer's slots built on load (Adam: 2, with AMSGrad
# and EMA: 4), metrics and seeds.
VARIABLES_FACTOR = 8
VARIABLES_SLACK = 64 << 20
# What a damaged archive raises while being read.
_READ_ERRORS = (OSError, KeyError, EOFError, RuntimeError, NotImplementedError,
                zipfile.BadZipFile, zlib.error, UnicodeDecodeError, json.JSONDecodeError)


def _modules(config, where):
    """Module names recorded in a Keras object config; refuses nesting deeper
    than ``CONFIG_MAX_DEPTH`` (walked without recursion)."""
    found, stack = set(), [(config, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > CONFIG_MAX_DEPTH:
            raise ValueError(f"{where}: its config.json nests more than {CONFIG_MAX_DEPTH} "
                             "levels deep; refused")
        if isinstance(value, dict):
            if isinstance(value.get("module"), str):
                found.add(value["module"])
            values = value.values()
        else:
            values = value
        stack.extend((item, depth + 1) for item in values if isinstance(item, (dict, list)))
    return found


def _read_config(archive, where):
    """config.json, parsed: its declared size capped, at most the cap read."""
    info = archive.getinfo("config.json")
    if info.file_size > CONFIG_MAX_BYTES:
        from common.keras_compat import size_text
        raise ValueError(f"{where}: its config.json declares {size_text(info.file_size)}, more "
                         f"than the {size_text(CONFIG_MAX_BYTES)} a model config may hold; "
                         "refused before reading it")
    with archive.open(info) as member:
        text = member.read(CONFIG_MAX_BYTES + 1)
    if len(text) > CONFIG_MAX_BYTES:
        from common.keras_compat import size_text
        raise ValueError(f"{where}: its config.json holds more than "
                         f"{size_text(CONFIG_MAX_BYTES)}; refused")
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(f"{where}: its config.json nests more than {CONFIG_MAX_DEPTH} levels "
                         "deep; refused") from None


@argument_errors("path")
def read_config(path):
    """The parsed config.json of a .keras file, read without Keras or
    TensorFlow (bounded as ``load_model`` bounds it): what a command checks
    before it loads them. ValueError names the file."""
    where = f"'{path}'"
    try:
        with zipfile.ZipFile(path) as archive:
            config = _read_config(archive, where)
    except _READ_ERRORS as error:
        raise ValueError(f"{where} is not a .keras model file: {summary(error)}") from error
    _modules(config, where)  # refuses a config nested too deep
    return config


@argument_errors("path")
def load_model(path, **kwargs):
    """``keras.saving.load_model(path)`` after importing the toolkit modules
    that define the file's layers (named in its ``config.json``), so a fresh
    process needs no import beforehand. ``kwargs`` go to Keras; ``safe_mode``
    cannot be turned off."""
    where = f"'{path}'"
    if kwargs.get("safe_mode", True) is not True:
        raise ValueError(f"{where}: safe_mode=False is refused: a model from elsewhere "
                         "could run its Python code")
    from common.keras_compat import archive_weights_bytes, check_archive, variable_budget
    try:
        with zipfile.ZipFile(path) as archive:
            check_archive(archive, path, where)
            modules = _modules(_read_config(archive, where), where)
            weights = archive_weights_bytes(archive, where)
    except _READ_ERRORS as error:
        raise ValueError(f"{where} is not a .keras model file: {summary(error)}") from error
    budget = None
    try:
        # A .keras file names the modules of its custom layers: those of the
        # packages that register Keras objects (common.keras_objects) are
        # imported, no other module a file names.
        from common.keras_objects import packages
        allowed = packages()
        for module in sorted(modules):
            if module.split(".")[0] in allowed:
                importlib.import_module(module)
        import keras
        with variable_budget(VARIABLES_FACTOR * weights + VARIABLES_SLACK) as budget:
            model = keras.saving.load_model(path, **kwargs)
        if budget.refused:  # Keras caught the refusal and went on
            raise ValueError(budget.refused)
        return model
    except Exception as error:  # Keras raises any type on a bad config; it said why
        if budget is not None and budget.refused:
            raise ValueError(f"{where} {budget.refused}") from None
        raise ValueError(f"{where} could not be loaded: {summary(error)}") from error
