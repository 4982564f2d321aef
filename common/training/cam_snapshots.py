"""``CamSnapshots``: Grad-CAM overlays of fixed images after each epoch."""

import os

import keras
import numpy as np

from common.cam import GradCAM
from common.commandline.plots import cam_grid_figure, save_figure


class CamSnapshots(keras.callbacks.Callback):
    """Writes ``out_dir/epoch_NNN.png`` after each epoch: Grad-CAM overlays of
    fixed images, each captioned with its true class, the predicted class and
    its probability, and the class whose map is shown; the figure is titled
    with the epoch and has a colour bar. With ``summary_dir`` the same picture
    goes to TensorBoard (tag ``cam_snapshots``), so one can watch the
    attention move during training.

    Args:
        images: (N, H, W, 3) float32 in [0, 1], or a dict of model inputs
            whose ``"image"`` entry is that.
        out_dir: folder of the PNG files.
        labels: int (N,) true classes.
        class_names: names of the classes.
        true_class_maps: show the map of the true class (FSA), else of the
            predicted one.
        network: the model to explain; default ``model.network`` (the
            deployable network of a GuidedClassifier) or the model itself.
        feature_layer: the layer Grad-CAM differentiates (None: the last
            4-D layer).
        summary_dir: a TensorBoard log folder, or None.

    Example:
        ``model.fit(data, callbacks=[CamSnapshots(images, "cams", labels,
        class_names)])``
    """

    def __init__(self, images, out_dir, labels, class_names, true_class_maps=False,
                 network=None, feature_layer=None, summary_dir=None):
        super().__init__()
        self.images, self.out_dir, self.labels = images, out_dir, np.asarray(labels)
        self.class_names, self.true_class_maps = class_names, true_class_maps
        self.network, self.feature_layer, self.summary_dir = network, feature_layer, summary_dir
        self._cam = self._writer = None

    def figure(self, epoch):
        network = self.network or getattr(self.model, "network", self.model)
        if self._cam is None:
            self._cam = GradCAM(network, self.feature_layer)
        probabilities = np.asarray(network(self.images, training=False))
        predicted = probabilities.argmax(-1)
        shown = self.labels if self.true_class_maps else predicted
        heatmaps = self._cam(self.images, class_index=shown).numpy()
        images = self.images["image"] if isinstance(self.images, dict) else self.images
        names = self.class_names
        captions = [f"true: {names[t]}\npredicted: {names[p]} ({probabilities[i, p]:.2f})\n"
                    f"map of: {names[s]}" for i, (t, p, s) in enumerate(
                        zip(self.labels, predicted, shown))]
        which = "true" if self.true_class_maps else "predicted"
        title = (f"Epoch {epoch + 1}: Grad-CAM of the {which} class on fixed validation "
                 "images (one per class first)")
        return cam_grid_figure(np.asarray(images), heatmaps, captions, title)

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.out_dir, exist_ok=True)
        path = os.path.join(self.out_dir, f"epoch_{epoch + 1:03d}.png")
        save_figure(path, self.figure(epoch))
        if self.summary_dir:
            import tensorflow as tf
            if self._writer is None:
                self._writer = tf.summary.create_file_writer(self.summary_dir)
            picture = tf.io.decode_png(tf.io.read_file(path), channels=3)[None]
            with self._writer.as_default():
                tf.summary.image("cam_snapshots", picture, step=epoch + 1)
            self._writer.flush()
