"""The run folder: never overwritten, resumable, and the classes beside a
saved model."""

import errno
import json
import os
import time

from common.io import atomic_write


class RunFolderError(ValueError):
    """The run folder cannot be used as asked (exists, or nothing to resume)."""


def default_output(method):
    return os.path.join("runs", f"{method}-{time.strftime('%Y%m%d-%H%M%S')}")


CLAIM = "README.txt"  # created exclusively: the run that creates it owns the folder


def check_writable(output):
    """Raises RunFolderError unless ``output`` (or the folder that would
    hold it) can be written: said before the data loads, not after."""
    existing = os.path.abspath(output)
    while not os.path.isdir(existing):
        parent = os.path.dirname(existing)
        if parent == existing:
            break
        existing = parent
    if not os.access(existing, os.W_OK | os.X_OK):
        raise RunFolderError(f"--output: cannot write run folder '{output}': "
                             f"'{existing}' is not writable")


def prepare(output, resume):
    """Creates the run folder; never reuses a non-empty one unless resuming.
    A fresh folder is claimed by creating its README.txt exclusively, so of
    two runs started into the same folder the second stops."""
    config = os.path.join(output, "config.yaml")
    if resume:
        if not os.path.isfile(config):
            raise RunFolderError(f"--resume: '{output}' is not a run folder (no config.yaml)")
        return output
    taken = RunFolderError(f"--output: run folder '{output}' already exists and is not "
                           "empty; pass --resume to continue it or choose another folder")
    if os.path.isdir(output) and os.listdir(output):
        raise taken
    try:
        os.makedirs(output, exist_ok=True)
        os.close(os.open(os.path.join(output, CLAIM), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        raise taken from None
    except OSError as error:
        if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise RunFolderError(f"--output: cannot write run folder '{output}': "
                                 f"{error.strerror}") from error
        raise
    return output


def mark_failed(run, reason):
    """Writes ``run/FAILED``: a run that must not be mistaken for a success."""
    from common.io import write_text
    write_text(os.path.join(run, "FAILED"), reason.rstrip() + "\n")


def save_model(model, path):
    """model.save to a temporary name, then rename: a reader never sees half
    a file and an old model survives a crash (or a full disk, checked first)."""
    from common.training.disk import require_space, variables_bytes
    require_space(path, variables_bytes(model))
    atomic_write(path, model.save)


def trim_history(path, epochs_done):
    """Drops rows of epochs that will run again, so a resumed history.csv
    has each epoch exactly once."""
    import pandas as pd
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        return
    history = pd.read_csv(path)
    kept = history[history["epoch"] < epochs_done]
    if len(kept) != len(history):
        atomic_write(path, lambda tmp: kept.to_csv(tmp, index=False))


def model_classes(model_path, required=False):
    """Class names from the classes.json beside a saved model (None if there
    is none and not ``required``); checks that the model file exists."""
    if not os.path.isfile(model_path):
        raise FileNotFoundError(f"--model: no file '{model_path}'")
    path = os.path.join(os.path.dirname(os.path.abspath(model_path)), "classes.json")
    if not os.path.isfile(path):
        if required:
            raise FileNotFoundError(f"--model: no classes.json beside '{model_path}'")
        return None
    with open(path) as handle:
        return json.load(handle)
