"""``CamSnapshots``: Grad-CAM overlays of fixed images after each epoch."""

import os

import keras
import numpy as np

from common.cam import GradCAM
from common.training.plots import save_overlay_grid


class CamSnapshots(keras.callbacks.Callback):
    """Writes ``out_dir/epoch_NNN.png`` after each epoch: Grad-CAM overlays of
    fixed images, so one can watch the attention move during training.

    Args:
        images: (N, H, W, 3) float32 in [0, 1], or a dict of model inputs
            whose ``"image"`` entry is that.
        out_dir: folder of the PNG files.
        labels: int (N,) true classes; the maps are of these classes when
            ``true_class_maps`` (FSA shows the true class), else of the
            predicted.
        class_names: titles of the tiles.
        network: the model to explain; default ``model.network`` (the
            deployable network of a GuidedClassifier) or the model itself.
        feature_layer: the layer Grad-CAM differentiates (None: the last
            4-D layer).

    Example:
        ``model.fit(data, callbacks=[CamSnapshots(images, "cams", labels,
        class_names)])``
    """

    def __init__(self, images, out_dir, labels=None, class_names=None, true_class_maps=False,
                 network=None, feature_layer=None):
        super().__init__()
        self.images, self.out_dir, self.labels = images, out_dir, labels
        self.class_names, self.true_class_maps = class_names, true_class_maps
        self.network, self.feature_layer, self._cam = network, feature_layer, None

    def on_epoch_end(self, epoch, logs=None):
        if self._cam is None:
            self._cam = GradCAM(self.network or getattr(self.model, "network", self.model),
                                self.feature_layer)
        classes = self.labels if self.true_class_maps else None
        heatmaps = self._cam(self.images, class_index=classes).numpy()
        images = self.images["image"] if isinstance(self.images, dict) else self.images
        titles = None
        if self.class_names is not None and self.labels is not None:
            titles = [self.class_names[int(c)] for c in self.labels]
        os.makedirs(self.out_dir, exist_ok=True)
        save_overlay_grid(os.path.join(self.out_dir, f"epoch_{epoch + 1:03d}.png"),
                          np.asarray(images), heatmaps, titles)
