"""Callbacks shared by the trainers."""

import json
import os

import keras
import numpy as np

from common.cam import GradCAM
from common.plots import save_overlay_grid
from common.runfolder import atomic_write, write_json


class CamSnapshots(keras.callbacks.Callback):
    """Writes ``out_dir/epoch_NNN.png`` after each epoch: Grad-CAM overlays of
    fixed images, so one can watch the attention move during training.

    Args:
        images: (N, H, W, 3) float32 in [0, 1], or a dict of model inputs
            whose ``"image"`` entry is that.
        out_dir: folder of the PNG files.
        labels: int (N,) true classes; the maps are of these classes when
            ``use_labels`` (FSA shows the true class), else of the predicted.
        class_names: titles of the tiles.
        network: the model to explain; default ``model.network`` (the
            deployable network of a GuidedClassifier) or the model itself.
    """

    def __init__(self, images, out_dir, labels=None, class_names=None, use_labels=False,
                 network=None, layer=None):
        super().__init__()
        self.images, self.out_dir, self.labels = images, out_dir, labels
        self.class_names, self.use_labels = class_names, use_labels
        self.network, self.layer, self._cam = network, layer, None

    def on_epoch_end(self, epoch, logs=None):
        if self._cam is None:
            self._cam = GradCAM(self.network or getattr(self.model, "network", self.model),
                                self.layer)
        classes = self.labels if self.use_labels else None
        heatmaps = self._cam(self.images, class_index=classes).numpy()
        images = self.images["image"] if isinstance(self.images, dict) else self.images
        titles = None
        if self.class_names is not None and self.labels is not None:
            titles = [self.class_names[int(c)] for c in self.labels]
        os.makedirs(self.out_dir, exist_ok=True)
        save_overlay_grid(os.path.join(self.out_dir, f"epoch_{epoch + 1:03d}.png"),
                          np.asarray(images), heatmaps, titles)


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
