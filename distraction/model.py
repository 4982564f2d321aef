"""The distraction classifier: Grad-CAM-guided occlusion in ``train_step``
(Morales, Talavera, Remeseiro, "Playing to distraction", Algorithm 1)."""

import keras

from common.classifier import GuidedClassifier, build_cam_classifier
from distraction.guide import GradCamOcclusion


@keras.saving.register_keras_serializable(package="distraction")
class DistractionModel(GuidedClassifier):
    """The paper's training model: a ``GuidedClassifier`` with one
    ``GradCamOcclusion`` guide, then ``guides`` (kept and saved). Its
    arguments (and files saved by earlier versions) are the guide's;
    ``network`` is the deployable classifier."""

    def __init__(self, network, p=0.25, threshold=0.85, mode="zero", seed=0, guides=(),
                 **kwargs):
        guide = GradCamOcclusion(p, threshold, mode, seed, kwargs.get("feature_layer"))
        super().__init__(network, guides=[guide, *guides], **kwargs)

    @property
    def occlusion(self):
        return self.guide(GradCamOcclusion)

    p = property(lambda self: self.occlusion.p)
    threshold = property(lambda self: self.occlusion.threshold)
    mode = property(lambda self: self.occlusion.mode)
    seed = property(lambda self: self.occlusion.seed)
    gradcam = property(lambda self: self.occlusion.gradcam)

    def distract(self, images, labels):
        """The occluded batch: batched Grad-CAM of the true classes, then occlude."""
        return self.occlusion.distract(self, images, labels)

    def get_config(self):
        guide = self.occlusion
        return {**self.base_config(), "p": guide.p, "threshold": guide.threshold,
                "mode": guide.mode, "seed": guide.seed, "guides": self.other_guides_config()}


def build_distraction_model(backbone, num_classes, p=0.25, threshold=0.85, mode="zero",
                            **kwargs):
    """backbone -> global average pooling -> Dense softmax, trained with
    Grad-CAM-guided occlusion. ``kwargs`` go to ``DistractionModel`` (seed,
    feature_layer, guides)."""
    network = build_cam_classifier(backbone, num_classes, name="distraction_classifier")
    return DistractionModel(network, p=p, threshold=threshold, mode=mode, **kwargs)
