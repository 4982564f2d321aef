"""``BestEpoch``: the weights of the epoch with the best validation metric,
kept in the run folder for ``--keep best``.

A small validation set makes the last epoch a lottery (AG-Net's validation
accuracy once swung by 0.25 between its last two epochs); choosing the epoch
on the validation images and reporting the test images keeps the test set
untouched by the choice.
"""

import json
import os

import keras
import numpy as np

from common.io import atomic_write, write_json
from common.keras_compat import load_weights
from common.training.disk import require_space, variables_bytes

WEIGHTS, RECORD = "best.weights.h5", "best.json"


def metric_mode(metric):
    """"min" for losses, "max" for everything else (accuracy, F1, top-5)."""
    return "min" if metric.endswith("loss") else "max"


def read_best(run):
    """``{"epoch", "metric", "value"}`` of the run's best epoch, or None."""
    path = os.path.join(run, RECORD)
    if not os.path.isfile(path):
        return None
    with open(path) as handle:
        return json.load(handle)


class BestEpoch(keras.callbacks.Callback):
    """After each epoch, saves the weights to ``run/best.weights.h5`` (and
    ``run/best.json``) when ``metric`` (a name in the epoch's logs, e.g.
    ``val_accuracy`` or ``val_loss``) improved on every earlier epoch,
    resumed runs included. ``restore()`` loads them back.

    Example: ``model.fit(..., callbacks=[best := BestEpoch("runs/a")]);
    best.restore()``
    """

    def __init__(self, run, metric="val_accuracy"):
        super().__init__()
        self.run, self.metric, self.mode = run, metric, metric_mode(metric)
        record = read_best(run)
        self.best = record["value"] if record and record["metric"] == metric else None

    def better(self, value):
        if self.best is None:
            return True
        return value < self.best if self.mode == "min" else value > self.best

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.metric)
        if value is None:
            raise ValueError(f"--keep-metric: no metric '{self.metric}' in the epoch's logs; "
                             f"expected one of {sorted(logs or {})}")
        if not np.isfinite(value) or not self.better(value):
            return
        self.best = float(value)
        path = os.path.join(self.run, WEIGHTS)
        require_space(path, variables_bytes(self.model))
        atomic_write(path, self.model.save_weights)
        write_json(os.path.join(self.run, RECORD),
                   {"epoch": epoch + 1, "metric": self.metric, "value": self.best})

    def restore(self):
        """Loads the best epoch's weights into the model; returns its record
        (None, and the weights untouched, when no epoch was saved)."""
        record = read_best(self.run)
        if record:
            load_weights(self.model, os.path.join(self.run, WEIGHTS))
        return record
