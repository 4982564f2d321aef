"""``NonFiniteGuard``: training stops at the first non-finite loss or metric."""

import math

import keras


class NonFiniteError(RuntimeError):
    """A loss, metric or weight became NaN or infinite; the message names
    where and what to try."""


def _first_non_finite(logs):
    for name, value in (logs or {}).items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if not math.isfinite(number):
            return name, number
    return None


class NonFiniteGuard(keras.callbacks.Callback):
    """Raises ``NonFiniteError`` at the first NaN or infinite value in the
    logs of a training batch or of an epoch's end (validation included).

    Put it first in ``callbacks`` so that it acts before any callback of
    that epoch writes anything (a backup of NaN weights, a history row): the
    last finished epoch's files stay as they were.

    Example:
        ``model.fit(data, callbacks=[NonFiniteGuard(), EpochBackup("backup")])``
    """

    def __init__(self):
        super().__init__()
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def _check(self, logs, where):
        found = _first_non_finite(logs)
        if found:
            name, value = found
            raise NonFiniteError(f"non-finite {name} ({value}) at epoch {self.epoch + 1}, "
                                 f"{where}: try a lower --lr (or gradient-friendlier "
                                 "settings: --mixed-precision off, a smaller loss weight)")

    def on_train_batch_end(self, batch, logs=None):
        self._check(logs, f"batch {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        self._check(logs, "its end (validation)")
