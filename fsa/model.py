"""The FSA training model: SqueezeNet whose true-class CAM is pushed toward
predefined masks during training; the deployable model is the plain
classifier (``model.network``)."""

import keras
import numpy as np
import tensorflow as tf

from common.classifier import GuidedClassifier
from common.receptive_field import receptive_field_geometry
from fsa.losses import fsa_loss
from fsa.masks import masks_on_grid
from fsa.network import build_squeezenet


@keras.saving.register_keras_serializable(package="fsa")
class FsaModel(GuidedClassifier):
    """Adds ``fsa_loss`` on the pre-activation CAMs (output of the layer
    ``cam``) to the cross-entropy in ``train_step``.

    The statistic ``cam_alive`` is the fraction of positive true-class CAM
    logits: at 0 the CAMs are dead (ReLU -> GAP passes no gradient).

    Args:
        network: classifier with a ``cam`` layer (``build_squeezenet``).
        masks: (C, M, H, W) masks drawn on images of any size: averaged onto
            the CAM grid around each cell's receptive-field centre
            (``fsa.masks.masks_on_grid``); with ``on_grid`` they are already
            on the grid (what ``get_config`` stores).
        counts: (C,) valid masks per class.
        stage: initial stage (0: cross-entropy only, a warm-up; 1 or 2: the
            FSA loss of that stage); ``self.stage`` is a variable that
            ``StageSwitch`` changes between epochs without recompiling.
        lambda_fsa, lambda_reg: loss weights (paper: 10 and 0.2); a
            lambda_fsa of 0 trains with cross-entropy only.
        fit_loss: ``"bce"`` or the paper's ``"mse"`` (``fsa.losses.fsa_loss``).
        mask_peak: ``"one"`` rescales each grid mask to peak 1, ``"raw"``
            keeps the averaged values.
    """

    monitored = ("cam_alive",)

    def __init__(self, network, masks, counts, stage=1, lambda_fsa=10.0, lambda_reg=0.2,
                 fit_loss="bce", mask_peak="one", on_grid=False, **kwargs):
        kwargs.setdefault("feature_layer", "cam")
        super().__init__(network, **kwargs)
        if on_grid:
            self.masks = np.asarray(masks, np.float32)
        else:
            geometry = receptive_field_geometry(network, self.feature_layer)
            self.masks = masks_on_grid(masks, geometry, network.inputs[0].shape[1:3],
                                       mask_peak)
        self.counts = np.asarray(counts, np.int32)
        self.fit_loss, self.mask_peak = fit_loss, mask_peak
        self.lambda_fsa, self.lambda_reg = float(lambda_fsa), float(lambda_reg)
        self.stage = keras.Variable(int(stage), dtype="int32", trainable=False,
                                    name="fsa_stage")
        self.extra_loss_weights["fsa_loss"] = self.lambda_fsa

    def cams(self, features):
        return tf.cast(features, tf.float32)  # the cam layer's output is the CAM

    def extra_losses(self, x, y, features, y_pred):
        terms = super().extra_losses(x, y, features, y_pred)
        if self.lambda_fsa:
            stage = self.stage.value
            active = tf.cast(stage > 0, tf.float32)
            terms["fsa_loss"] = active * fsa_loss(features, self.masks, self.counts, y,
                                                  tf.maximum(stage, 1), 1.0, self.lambda_reg,
                                                  self.fit_loss)
        return terms

    def statistics(self, x, y, features, y_pred):
        labels = tf.cast(tf.reshape(y, (-1,)), tf.int32)
        true_cams = tf.gather(tf.cast(features, tf.float32), labels, axis=3, batch_dims=1)
        positive = tf.reduce_sum(tf.cast(true_cams > 0, tf.float32))
        return {"cam_alive": (positive, tf.cast(tf.size(true_cams), tf.float32))}

    def get_config(self):
        return {**super().get_config(), "masks": self.masks.tolist(), "on_grid": True,
                "counts": self.counts.tolist(), "stage": int(self.stage.numpy()),
                "lambda_fsa": self.lambda_fsa, "lambda_reg": self.lambda_reg,
                "fit_loss": self.fit_loss, "mask_peak": self.mask_peak}


class StageSwitch(keras.callbacks.Callback):
    """Stage 0 (cross-entropy only) for ``warmup_epochs``, then stage 1 for
    ``stage1_epochs`` (None: for the rest of training), then stage 2.

    Example:
        ``model.fit(data, epochs=30, callbacks=[StageSwitch(stage1_epochs=15)])``
    """

    def __init__(self, stage1_epochs, warmup_epochs=0):
        super().__init__()
        self.stage1_epochs = None if stage1_epochs is None else int(stage1_epochs)
        self.warmup_epochs = int(warmup_epochs)

    def stage_of(self, epoch):
        if epoch < self.warmup_epochs:
            return 0
        if self.stage1_epochs is None or epoch < self.warmup_epochs + self.stage1_epochs:
            return 1
        return 2

    def on_epoch_begin(self, epoch, logs=None):
        self.model.stage.assign(self.stage_of(epoch))


def build_fsa_model(num_classes, masks, counts, input_shape=(224, 224, 3), weights=None,
                    **kwargs):
    """SqueezeNet v1.1 trained with the FSA loss; ``kwargs`` go to FsaModel."""
    network = build_squeezenet(num_classes, input_shape, weights)
    return FsaModel(network, masks, counts, **kwargs)
