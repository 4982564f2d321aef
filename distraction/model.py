"""The distraction classifier: Grad-CAM-guided occlusion in ``train_step``
(Morales, Talavera, Remeseiro, "Playing to distraction", Algorithm 1)."""

import keras
import tensorflow as tf

from common.cam import GradCAM
from common.classifier import GuidedClassifier, build_cam_classifier
from distraction.occlusion import MODES, occlude


@keras.saving.register_keras_serializable(package="distraction")
class DistractionModel(GuidedClassifier):
    """With probability ``p`` per batch, occludes the pixels where Grad-CAM of
    the ground-truth class exceeds ``threshold``, then trains on that batch.

    The coin is one stateless draw per global batch, seeded by ``seed`` and
    the optimizer's step, so every replica of a MirroredStrategy flips the
    same coin. Grad-CAM runs batched, in inference mode (BatchNorm moving
    statistics, not batch statistics) on the last 4-D layer (or
    ``feature_layer``). The fraction of occluded batches is the ``occluded``
    metric. ``network`` is the deployable classifier.
    """

    monitored = ("occluded",)

    def __init__(self, network, p=0.25, threshold=0.85, mode="zero", seed=0, **kwargs):
        super().__init__(network, **kwargs)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"--p: occlusion probability must be in [0, 1], got {p}")
        if mode not in MODES:
            raise ValueError(f"--occlusion: expected one of {MODES}, got {mode!r}")
        self.p, self.threshold, self.mode, self.seed = float(p), float(threshold), mode, int(seed)
        self.gradcam = GradCAM(network, self.feature_layer)

    def coin(self):
        """True with probability p; the same on every replica."""
        step = tf.cast(self.optimizer.iterations, tf.int32)
        draw = tf.random.stateless_uniform((), seed=tf.stack([self.seed, step]))
        return draw < self.p

    def distract(self, images, labels):
        """The occluded batch: batched Grad-CAM of the true classes, then occlude."""
        labels = tf.convert_to_tensor(labels)
        classes = labels if labels.shape.rank == 1 else tf.argmax(labels, axis=-1)
        heatmaps = self.gradcam(images, class_index=classes, training=False)
        return occlude(images, heatmaps, self.threshold, self.mode)

    def prepare_batch(self, x, y):
        flip = self.coin()
        x = tf.cond(flip, lambda: self.distract(x, y), lambda: tf.identity(x))
        # One coin per batch: the metric is the fraction of occluded batches.
        return x, {"occluded": (tf.cast(flip, tf.float32), 1.0)}

    def get_config(self):
        return {**super().get_config(), "p": self.p, "threshold": self.threshold,
                "mode": self.mode, "seed": self.seed}


def build_distraction_model(backbone, num_classes, p=0.25, threshold=0.85, mode="zero",
                            **kwargs):
    """backbone -> global average pooling -> Dense softmax, trained with
    Grad-CAM-guided occlusion. ``kwargs`` go to ``DistractionModel`` (seed,
    feature_layer, hnc_weight, hnc_k, hnc_variant)."""
    network = build_cam_classifier(backbone, num_classes, name="distraction_classifier")
    return DistractionModel(network, p=p, threshold=threshold, mode=mode, **kwargs)
