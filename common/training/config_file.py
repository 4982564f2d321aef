"""Flag values from files: a ``--config`` YAML or JSON file and a resumed
run's ``config.yaml`` are data, checked the same way (known keys, single
values), and a value that would import code is taken from the command line
only."""

from common.errors import quoted


class ConfigError(ValueError):
    """A bad flag or config value; the CLI prints it on one line, exit 2."""


def option(dest):
    """The flag of a setting: ``image_size`` -> ``--image-size``."""
    return "--" + dest.replace("_", "-")


def read_config_file(path, known, renamed=None):
    """Flag values from a YAML or JSON file; keys may use - or _."""
    import os
    if not os.path.isfile(path):
        raise ConfigError(f"--config: file '{path}' does not exist")
    from common.io import read_json, read_yaml
    try:
        values = (read_json(path) if path.endswith(".json") else read_yaml(path)) or {}
    except ValueError as error:
        raise ConfigError(f"--config: {error}") from None
    return config_values(values, known, f"--config: '{path}'", renamed)


def config_values(values, known, source, renamed=None):
    """``values`` (a mapping read from a file) with keys as flag names,
    checked: a mapping, known keys only, scalar or list values. ``source``
    names the file in errors ("--config: 'x.yaml'"); a key of ``renamed``
    (old name -> new) is refused with its new name."""
    if not isinstance(values, dict):
        raise ConfigError(f"{source} must hold a mapping of flag names to values, not a "
                          f"{type(values).__name__}")
    values = {str(k).replace("-", "_"): v for k, v in values.items()}
    unknown = sorted(set(values) - set(known) - {"method"})
    old = [key for key in unknown if key in (renamed or {})]
    if old:
        raise ConfigError(f"{source}: '{old[0]}' is now called '{renamed[old[0]]}' (the same "
                          "name in Python, flags and files)")
    if unknown:
        raise ConfigError(f"{source} has unknown key(s) {quoted(unknown, 120)}")
    nested = sorted(k for k, v in values.items() if isinstance(v, dict))
    if nested:
        raise ConfigError(f"{source}: {option(nested[0])} must be a single value, not a "
                          "mapping")
    return values


def code_from_file(flags, values, given, where):
    """Refuses a value that names code unless the command line gave it."""
    for dest, flag in flags.items():
        value = values.get(dest)
        if dest not in given and flag.names_code(value):
            raise ConfigError(
                f"{option(dest)} {quoted(value)} comes from {where}, and a file cannot make "
                f"the toolkit import code: give {option(dest)} on the command line (files "
                "may name a .keras file)")
