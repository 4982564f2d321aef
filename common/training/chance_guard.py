"""Runs stuck at chance, said in one line: ``ChanceGuard`` warns while
training, ``at_chance`` judges the kept model's validation accuracy.

A softmax classifier that has learnt nothing has a cross-entropy of ln C and
the accuracy of always answering the most frequent class. AG-Net once sat
there for eight epochs and exited 0 with "test accuracy 0.109": such a run
must not look like a success.
"""

import math
import sys

import keras
import numpy as np


def chance_accuracy(labels):
    """The accuracy of always answering the most frequent class of ``labels``
    (class indices), and the most a model can get above it by luck: two
    standard deviations of a binomial count over ``len(labels)`` images."""
    shares = np.bincount(np.asarray(labels)) / len(labels)
    top = float(shares.max())
    return top, 2.0 * math.sqrt(top * (1.0 - top) / len(labels))


def at_chance(accuracy, labels):
    """Whether ``accuracy`` on images with ``labels`` is no better than
    chance (within luck's margin)."""
    top, margin = chance_accuracy(labels)
    return accuracy <= top + margin


class ChanceGuard(keras.callbacks.Callback):
    """Warns once, in one line on stderr, when ``patience`` epochs in a row
    look like chance: the training loss within ``tolerance`` (a fraction) of
    ln C, where the loss is plain cross-entropy (``loss_is_cross_entropy``),
    or the validation accuracy within luck's margin of ``val_labels``'
    chance accuracy.

    Example: ``model.fit(..., callbacks=[ChanceGuard(10, val_labels)])``
    """

    def __init__(self, num_classes, val_labels, patience=3, tolerance=0.03,
                 loss_is_cross_entropy=True, prefix="warning"):
        super().__init__()
        self.chance_loss = math.log(num_classes)
        self.val_labels = np.asarray(val_labels)
        self.patience, self.tolerance = patience, tolerance
        self.loss_is_cross_entropy, self.prefix = loss_is_cross_entropy, prefix
        self.streak, self.warned = 0, False

    def looks_like_chance(self, logs):
        loss = logs.get("loss")
        stuck_loss = (self.loss_is_cross_entropy and loss is not None and
                      abs(loss - self.chance_loss) <= self.tolerance * self.chance_loss)
        accuracy = logs.get("val_accuracy")
        stuck_accuracy = accuracy is not None and at_chance(accuracy, self.val_labels)
        return stuck_loss or stuck_accuracy

    def on_epoch_end(self, epoch, logs=None):
        self.streak = self.streak + 1 if self.looks_like_chance(logs or {}) else 0
        if self.streak >= self.patience and not self.warned:
            self.warned = True
            classes = round(math.exp(self.chance_loss))
            print(f"{self.prefix}: epochs {epoch + 2 - self.streak}-{epoch + 1} look like "
                  f"chance (training loss {logs.get('loss', float('nan')):.3f}, ln "
                  f"{classes} = {self.chance_loss:.3f}; validation accuracy "
                  f"{logs.get('val_accuracy', float('nan')):.3f}): the model is not "
                  "learning; try a smaller --lr", file=sys.stderr)
