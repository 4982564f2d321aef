"""Atomic file writes: a reader never sees half a file, and a crash never
destroys the previous version (write to a temporary name, then rename)."""

import json
import os

import yaml


def atomic_write(path, write):
    """Calls ``write(tmp_path)`` then renames tmp_path onto ``path``."""
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, f".tmp-{os.getpid()}-{name}")  # keeps the full suffix
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(path, text):
    def write(tmp):
        with open(tmp, "w") as handle:
            handle.write(text)
    atomic_write(path, write)


def write_json(path, value):
    write_text(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


def write_yaml(path, value):
    write_text(path, yaml.safe_dump(value, sort_keys=True))


def read_yaml(path):
    """The plain data of a YAML file: ``safe_load`` refuses Python tags
    (``!!python/object``), so reading runs no code; a file it cannot parse
    is a ValueError of one line naming it."""
    try:
        with open(path) as handle:
            return yaml.safe_load(handle) or {}
    except yaml.YAMLError as error:
        reason = " ".join(str(error).split())
        raise ValueError(f"'{path}' is not plain YAML: {reason}") from None
