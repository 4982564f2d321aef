"""``EpochBackup``: crash-safe weights and optimizer state after each epoch,
and ``restore_backup`` to continue from them."""

import os

import keras
import numpy as np

from common.io import atomic_write, write_json
from common.keras_compat import load_weights
from common.training.disk import require_space, variables_bytes
from common.training.nonfinite_guard import NonFiniteError
from common.training.runfolder import read_backup_metadata


class EpochBackup(keras.callbacks.Callback):
    """Saves weights and optimizer state after each epoch to
    ``backup_dir/epoch_NNN.weights.h5`` and then ``training_metadata.json``
    naming it, each written under a temporary name and renamed. A process
    killed at any moment leaves a consistent pair (unlike a file overwritten
    in place), which ``restore_backup`` loads before ``fit(initial_epoch=)``.
    """

    def __init__(self, backup_dir):
        super().__init__()
        self.backup_dir = backup_dir
        self.ended = None  # epochs finished, while the epoch-end callbacks run

    def end_marker(self):
        """A callback to put before the other epoch-end callbacks: it notes
        that the weights are those of a finished epoch, so an interrupt
        during those (slow) callbacks can still back that epoch up."""
        return keras.callbacks.LambdaCallback(
            on_epoch_begin=lambda epoch, logs: setattr(self, "ended", None),
            on_epoch_end=lambda epoch, logs: setattr(self, "ended", epoch + 1))

    def save_interrupted(self):
        """Backs up the epoch that had finished when training was
        interrupted, unless its backup exists; returns the epochs kept."""
        if self.ended and self.ended > read_backup_epoch(self.backup_dir):
            self.on_epoch_end(self.ended - 1)
        return read_backup_epoch(self.backup_dir)

    def on_epoch_end(self, epoch, logs=None):
        bad = [w.name for w in self.model.weights
               if not np.isfinite(keras.ops.convert_to_numpy(w)).all()]
        if bad:  # never replace the last good backup with broken weights
            raise NonFiniteError(f"non-finite weights ({', '.join(bad[:3])}) after epoch "
                                 f"{epoch + 1}; the backup of epoch {epoch} is kept")
        os.makedirs(self.backup_dir, exist_ok=True)
        name = f"epoch_{epoch + 1:03d}.weights.h5"
        # Before HDF5 starts: a write it cannot finish floods stderr and can crash.
        require_space(os.path.join(self.backup_dir, name), variables_bytes(self.model))
        atomic_write(os.path.join(self.backup_dir, name), self.model.save_weights)
        write_json(os.path.join(self.backup_dir, "training_metadata.json"),
                   {"epoch": epoch + 1, "weights": name})
        for old in os.listdir(self.backup_dir):
            if old.endswith(".weights.h5") and old != name:
                os.remove(os.path.join(self.backup_dir, old))


def read_backup_epoch(backup_dir):
    """Number of epochs the backup in ``backup_dir`` holds (0 if none)."""
    saved = read_backup_metadata(backup_dir)
    return saved["epoch"] if saved else 0


def restore_backup(model, backup_dir):
    """Loads the last backup of an EpochBackup into a compiled model; returns
    the number of finished epochs (0 when there is none)."""
    saved = read_backup_metadata(backup_dir)
    if saved is None:
        return 0
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    learning_rate = model.optimizer.learning_rate if model.optimizer is not None else None
    rate = None if learning_rate is None else keras.ops.convert_to_numpy(learning_rate)
    load_weights(model, saved["weights"])
    if rate is not None and hasattr(learning_rate, "assign"):
        # The optimizer's state holds its learning rate: keep the one this
        # (resumed) run was given, not the backup's.
        learning_rate.assign(rate)
    return saved["epoch"]
