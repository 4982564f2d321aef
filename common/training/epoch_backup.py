"""``EpochBackup``: crash-safe weights and optimizer state after each epoch,
and ``restore_backup`` to continue from them."""

import json
import os

import keras

from common.io import atomic_write, write_json


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

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.backup_dir, exist_ok=True)
        name = f"epoch_{epoch + 1:03d}.weights.h5"
        atomic_write(os.path.join(self.backup_dir, name), self.model.save_weights)
        write_json(os.path.join(self.backup_dir, "training_metadata.json"),
                   {"epoch": epoch + 1, "weights": name})
        for old in os.listdir(self.backup_dir):
            if old.endswith(".weights.h5") and old != name:
                os.remove(os.path.join(self.backup_dir, old))


def read_backup_epoch(backup_dir):
    """Number of epochs the backup in ``backup_dir`` holds (0 if none)."""
    meta = os.path.join(backup_dir, "training_metadata.json")
    if not os.path.isfile(meta):
        return 0
    with open(meta) as handle:
        return int(json.load(handle)["epoch"])


def restore_backup(model, backup_dir):
    """Loads the last backup of an EpochBackup into a compiled model; returns
    the number of finished epochs (0 when there is none)."""
    meta = os.path.join(backup_dir, "training_metadata.json")
    if not os.path.isfile(meta):
        return 0
    with open(meta) as handle:
        saved = json.load(handle)
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model.load_weights(os.path.join(backup_dir, saved["weights"]))
    return int(saved["epoch"])
