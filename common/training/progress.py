"""``PredictProgress``: a progress bar for ``model.predict`` on stderr."""

import math

import keras

from common.progress import bar


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
