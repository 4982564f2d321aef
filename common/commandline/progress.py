"""``PredictProgress``: a progress bar for ``model.predict`` on stderr;
``batches``: a streamed evaluation's loop over a dataset, with its bar."""

import contextlib
import math

import keras

from common.progress import bar
from common.commandline import quiet


def native_logs_off(verbose=1):
    """A context that keeps TensorFlow's native log lines off stderr (e.g.
    the harmless E-level "NodeDef mentions attribute use_unbounded_threadpool"
    that taking a batch eagerly logs), unless ``quiet.wanted(verbose)``."""
    return contextlib.nullcontext() if quiet.wanted(verbose) else quiet.native_stderr_silenced()


def batches(dataset, images, batch_size, desc, verbose=1):
    """Yields the batches of a ``tf.data`` dataset of ``images`` rows, with a
    bar of ``ceil(images / batch_size)`` batches (hidden with ``verbose=0``)
    and TensorFlow's native logs off (``native_logs_off``)."""
    with native_logs_off(verbose):
        yield from bar(dataset, total=math.ceil(images / batch_size), desc=desc,
                       verbose=verbose, unit="batch")


class PredictProgress(keras.callbacks.Callback):
    """Advances a bar of ``ceil(images / batch_size)`` batches as
    ``predict`` runs; pass ``verbose=0`` to hide it.

    Example: ``model.predict(dataset, verbose=0,
    callbacks=[PredictProgress(len(table), 32, "test set")])``
    """

    def __init__(self, images, batch_size, desc, verbose=1):
        super().__init__()
        self.total = math.ceil(images / batch_size)
        self.desc, self.verbose = desc, verbose

    def on_predict_begin(self, logs=None):
        self.bar = bar(total=self.total, desc=self.desc, verbose=self.verbose, unit="batch")

    def on_predict_batch_end(self, batch, logs=None):
        self.bar.update(1)

    def on_predict_end(self, logs=None):
        self.bar.close()
