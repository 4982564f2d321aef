"""``GradCamOcclusion``: the "Playing to distraction" step as a guide."""

import keras
import tensorflow as tf

from common.cam import GradCAM
from common.guidance import Guide
from distraction.occlusion import MODES, occlude


@keras.saving.register_keras_serializable(package="distraction")
class GradCamOcclusion(Guide):
    """With probability ``p`` per batch, occludes the pixels where Grad-CAM of
    the true class exceeds ``threshold`` (Morales, Talavera, Remeseiro,
    Algorithm 1), before the step; works on any differentiable classifier.

    The coin is one stateless draw per global batch, seeded by ``seed`` and
    the optimizer's step, so every replica flips the same coin. Grad-CAM
    runs batched, in inference mode (BatchNorm moving statistics, not batch
    statistics) on ``layer`` (default: the model's CAM feature layer, else
    the last 4-D layer). The statistic ``occluded`` is the fraction of
    occluded batches.
    """

    reads = ()

    def __init__(self, p=0.25, threshold=0.85, mode="zero", seed=0, layer=None):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"GradCamOcclusion: p (the occlusion probability) must be in "
                             f"[0, 1], got {p}")
        if not 0.0 <= threshold < 1.0:
            raise ValueError(f"GradCamOcclusion: threshold must be in [0, 1), got {threshold}")
        if mode not in MODES:
            raise ValueError(f"GradCamOcclusion: mode must be one of {MODES}, got {mode!r}")
        self.p, self.threshold, self.mode = float(p), float(threshold), mode
        self.seed, self.layer = int(seed), layer
        self.gradcam = None

    def attach(self, model):
        layer = self.layer if self.layer is not None else model.feature_layer
        if layer is None and model.cam_source is not None:
            layer = model.cam_source.feature_layer
        self.gradcam = GradCAM(model.view, layer)

    def statistic_names(self):
        return ("occluded",)

    def coin(self, model):
        """True with probability p; the same on every replica."""
        step = tf.cast(model.optimizer.iterations, tf.int32)
        draw = tf.random.stateless_uniform((), seed=tf.stack([self.seed, step]))
        return draw < self.p

    def distract(self, model, x, y):
        """``x`` with its images occluded where the true class's Grad-CAM is hot."""
        labels = tf.convert_to_tensor(y)
        classes = labels if labels.shape.rank == 1 else tf.argmax(labels, axis=-1)
        net_x, _ = model.split_inputs(x)
        heatmaps = self.gradcam(net_x, class_index=classes, training=False)
        return model.with_image(x, occlude(model.image_of(x), heatmaps, self.threshold,
                                           self.mode))

    def prepare(self, model, x, y):
        flip = self.coin(model)
        x = tf.cond(flip, lambda: self.distract(model, x, y),
                    lambda: tf.nest.map_structure(tf.identity, x))
        # One coin per batch: the metric is the fraction of occluded batches.
        return x, {"occluded": (tf.cast(flip, tf.float32), 1.0)}

    def statistics(self, step):
        return {}

    def get_config(self):
        return {"p": self.p, "threshold": self.threshold, "mode": self.mode,
                "seed": self.seed, "layer": self.layer}
