"""The run folder: never overwritten, resumable, and the classes beside a
saved model."""

import json
import os
import time

from common.io import atomic_write


class RunFolderError(ValueError):
    """The run folder cannot be used as asked (exists, or nothing to resume)."""


def default_output(method):
    return os.path.join("runs", f"{method}-{time.strftime('%Y%m%d-%H%M%S')}")


def prepare(output, resume):
    """Creates the run folder; never reuses a non-empty one unless resuming."""
    config = os.path.join(output, "config.yaml")
    if resume:
        if not os.path.isfile(config):
            raise RunFolderError(f"--resume: '{output}' is not a run folder (no config.yaml)")
        return output
    if os.path.isdir(output) and os.listdir(output):
        raise RunFolderError(f"--output: run folder '{output}' already exists and is not "
                             "empty; pass --resume to continue it or choose another folder")
    os.makedirs(output, exist_ok=True)
    return output


def mark_failed(run, reason):
    """Writes ``run/FAILED``: a run that must not be mistaken for a success."""
    from common.io import write_text
    write_text(os.path.join(run, "FAILED"), reason.rstrip() + "\n")


def save_model(model, path):
    """model.save to a temporary name, then rename: a reader never sees half
    a file and an old model survives a crash."""
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
