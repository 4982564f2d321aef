"""The run folder: never overwritten, resumable, and the classes beside a
saved model."""

import errno
import os
import time

from common.errors import quoted, summary
from common.io import atomic_write


class RunFolderError(ValueError):
    """The run folder cannot be used as asked (exists, or nothing to resume)."""


def default_output(method):
    return os.path.join("runs", f"{method}-{time.strftime('%Y%m%d-%H%M%S')}")


CLAIM = "README.txt"  # created exclusively: the run that creates it owns the folder


def check_writable(output):
    """Raises RunFolderError unless ``output`` (or the folder that would
    hold it) can be written: said before the data loads, not after."""
    if os.path.exists(output) and not os.path.isdir(output):
        raise RunFolderError(f"--output: '{output}' is a file, not a run folder; choose a "
                             "folder to create")
    existing = os.path.abspath(output)
    while not os.path.isdir(existing):
        parent = os.path.dirname(existing)
        if parent == existing:
            break
        if os.path.exists(parent) and not os.path.isdir(parent):
            raise RunFolderError(f"--output: cannot create run folder '{output}': '{parent}' "
                                 "is a file, not a folder")
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
    except OSError as error:  # read-only, forbidden, a path through a file, /proc ...
        if error.errno == errno.ENOSPC:
            raise
        raise RunFolderError(f"--output: cannot create run folder '{output}': "
                             f"{error.strerror}") from error
    return output


def resume_command(command, args):
    """The command that continues the run in ``args.output``; a flag that
    names code (``--network``) is given again: a run's config.yaml cannot
    import it."""
    words = [command.prog, "--resume", "--output", str(args.output)]
    for dest, flag in command.all_flags().items():
        if flag.names_code(args[dest]):
            words += ["--" + dest.replace("_", "-"), str(args[dest])]
    return " ".join(words)


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


def read_history(path):
    """A run's history.csv as a DataFrame: bounded in size, with an integer
    ``epoch`` column and numbers elsewhere (as Keras's CSVLogger writes it);
    else a one-line RunFolderError naming it."""
    import io

    import pandas as pd

    from common.io import read_text
    text = read_text(path)
    try:
        history = pd.read_csv(io.StringIO(text)) if text.strip() else pd.DataFrame(
            {"epoch": []})
    except (ValueError, pd.errors.ParserError) as error:
        raise RunFolderError(f"'{path}' is not a CSV table: {summary(error, 120)}") from None
    numbers = history.apply(pd.to_numeric, errors="coerce")
    bad = [column for column in history if numbers[column].isna().ne(history[column].isna()).any()]
    if "epoch" not in history or bad or not (numbers["epoch"] % 1 == 0).all():
        raise RunFolderError(f"'{path}' must be a table of numbers with an integer 'epoch' "
                             f"column, as Keras's CSVLogger writes it"
                             + (f" (column {quoted(bad[0])} is not numeric)" if bad else ""))
    numbers["epoch"] = numbers["epoch"].astype("int64")
    return numbers


def trim_history(path, epochs_done):
    """Drops rows of epochs that will run again, so a resumed history.csv
    has each epoch exactly once."""
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        return
    history = read_history(path)
    kept = history[history["epoch"] < epochs_done]
    if len(kept) != len(history):
        atomic_write(path, lambda tmp: kept.to_csv(tmp, index=False))


def run_file(folder, name):
    """The path of the run folder's file ``name``, checked to be a regular
    file inside ``folder``: a run folder someone sent cannot make a command
    read, embed or load a file elsewhere (a symlink, a ``..``)."""
    path = os.path.join(folder, name)
    inside = os.path.realpath(folder)
    if os.path.islink(path) or os.path.commonpath(
            [inside, os.path.realpath(path)]) != inside:
        raise RunFolderError(f"'{path}' points outside its run folder (a symlink?); refused")
    if not os.path.isfile(path):
        raise RunFolderError(f"'{path}' is missing or not a regular file")
    return path


def read_classes(path, what="classes.json"):
    """The class names a classes.json holds: a list of distinct strings."""
    from common.io import read_json
    classes = read_json(path)
    if (not isinstance(classes, list) or not classes
            or not all(isinstance(name, str) and 0 < len(name) <= 1000 for name in classes)
            or len(set(classes)) != len(classes)):
        raise RunFolderError(f"'{path}' must hold a list of distinct class names (strings), "
                             f"as the toolkit writes its {what}")
    return classes


def read_backup_metadata(backup_dir):
    """``{"epoch": N, "weights": path}`` of a backup's training_metadata.json
    (None without one): the epoch a non-negative integer, the weights a
    file of the backup folder itself, never a path elsewhere."""
    meta = os.path.join(backup_dir, "training_metadata.json")
    if not os.path.lexists(meta):
        return None
    from common.io import read_json
    saved = read_json(run_file(backup_dir, "training_metadata.json"))
    epoch = saved.get("epoch") if isinstance(saved, dict) else None
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise RunFolderError(f"'{meta}': 'epoch' must be a non-negative integer, as the "
                             "toolkit writes it")
    name = saved.get("weights")
    if not isinstance(name, str) or os.path.basename(name) != name or not name.endswith(
            ".weights.h5"):
        raise RunFolderError(f"'{meta}': 'weights' must name a .weights.h5 file of its own "
                             "folder, as the toolkit writes it")
    return {"epoch": epoch, "weights": run_file(backup_dir, name)}


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
    return read_classes(path)
