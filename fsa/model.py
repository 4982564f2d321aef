"""The FSA training model: SqueezeNet whose true-class CAM is pushed toward
predefined masks during training; the deployable model is the plain
classifier (``model.network``)."""

import keras

from common.classifier import GuidedClassifier
from fsa.guide import ForcedSpatialAttention
from fsa.monitor import StageSwitch  # noqa: F401  (its home before; kept importable)
from fsa.network import build_squeezenet


@keras.saving.register_keras_serializable(package="fsa")
class FsaModel(GuidedClassifier):
    """The FSA paper's training model: a ``GuidedClassifier`` with one
    ``ForcedSpatialAttention`` guide, then ``guides`` (kept and saved, e.g.
    ``common.HomogeneousNegativeCam``); the deployable model is
    ``model.network``. Its arguments (and the files saved by earlier
    versions) are the guide's under the paper's names: ``lambda_fsa`` is its
    weight (0: cross-entropy only), ``lambda_reg`` its reg; ``self.stage`` is
    the guide's stage variable.
    """

    def __init__(self, network, masks, counts, stage=1, lambda_fsa=10.0, lambda_reg=0.2,
                 fit_loss="bce", mask_peak="one", on_grid=False, guides=(), **kwargs):
        guide = ForcedSpatialAttention(masks, counts, lambda_fsa, lambda_reg, stage, fit_loss,
                                       mask_peak, on_grid)
        super().__init__(network, guides=[guide, *guides], **kwargs)
        self.fsa_options = {"lambda_fsa": float(lambda_fsa), "lambda_reg": float(lambda_reg),
                            "fit_loss": fit_loss, "mask_peak": mask_peak}

    lambda_fsa = property(lambda self: self.fsa_options["lambda_fsa"])
    lambda_reg = property(lambda self: self.fsa_options["lambda_reg"])
    fit_loss = property(lambda self: self.fsa_options["fit_loss"])
    mask_peak = property(lambda self: self.fsa_options["mask_peak"])

    @property
    def fsa(self):
        return self.guide(ForcedSpatialAttention)

    @property
    def stage(self):
        return self.fsa.stage

    @property
    def masks(self):
        return self.fsa.masks

    @property
    def counts(self):
        return self.fsa.counts

    def get_config(self):
        guide = self.fsa.get_config()
        return {**self.base_config(), **self.fsa_options, "masks": guide["masks"],
                "counts": guide["counts"], "on_grid": True, "stage": guide["stage"],
                "guides": self.other_guides_config()}


def build_fsa_model(num_classes, masks, counts, input_shape=(224, 224, 3), weights=None,
                    **kwargs):
    """SqueezeNet v1.1 trained with the FSA loss; ``kwargs`` go to FsaModel."""
    network = build_squeezenet(num_classes, input_shape, weights)
    return FsaModel(network, masks, counts, **kwargs)
