"""``Settings``: the values of one training run, resolved once and read-only.

Every layer of a run (flags, ``--config``, a resumed run's ``config.yaml``,
the mode's defaults, the method's ``settle``) is folded into one mapping
before TensorFlow loads (``common.training.entry.parse``); after that no
hook changes it. A later value of the same run is a new object
(``replace``), so what ``config.yaml`` records is what trained.
"""

from collections.abc import Mapping


class Settings(Mapping):
    """Read-only ``name -> value`` with attribute access (``settings.lr``)."""

    __slots__ = ("_values",)

    def __init__(self, values=(), **more):
        object.__setattr__(self, "_values", {**dict(values), **more})

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"this command has no setting '{name}'") from None

    def __setattr__(self, name, value):
        raise AttributeError(f"settings are resolved once (setting '{name}'); use "
                             "replace() for a changed copy")

    def __getitem__(self, name):
        return self._values[name]

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)

    def __repr__(self):
        return f"Settings({self._values!r})"

    def __reduce__(self):  # picklable (multi-worker helpers, spawn)
        return (Settings, (self._values,))

    def replace(self, **changes):
        """A copy with ``changes``; each name must be a setting already."""
        unknown = sorted(set(changes) - set(self._values))
        if unknown:
            raise AttributeError(f"this command has no setting {unknown[0]!r}")
        return Settings(self._values, **changes)
