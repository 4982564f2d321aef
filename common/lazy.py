"""Lazy re-exports for package ``__init__`` files, so importing a light
module of a package (a table reader, the CLI) does not import TensorFlow."""

import importlib


def lazy_exports(package, exports):
    """A module ``__getattr__`` for ``package``: ``exports`` maps a name to
    the sub-module that defines it, imported on first use."""
    def __getattr__(name):
        if name not in exports:
            raise AttributeError(f"module '{package}' has no attribute '{name}'")
        return getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
    return __getattr__
