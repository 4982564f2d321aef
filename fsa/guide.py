"""``ForcedSpatialAttention``: the FSA loss as a guide, on any CAM classifier."""

import warnings

import keras
import numpy as np
import tensorflow as tf

from common.guidance import Guide
from common.receptive_field import receptive_field_or_centres
from fsa.losses import FITS, fsa_fit, fsa_loss
from fsa.mask_checks import check_masks
from fsa.masks import load_masks, masks_on_grid


@keras.saving.register_keras_serializable(package="fsa")
class ForcedSpatialAttention(Guide):
    """Pushes the true class's map toward its predefined masks (Rangesh &
    Trivedi, ICCV-W 2019; ``fsa.losses.fsa_loss``), term ``fsa_loss``.

    It fits the head's pre-activation maps (``Step.maps``): on a 1x1 conv
    CAM head with a ReLU, the conv outputs before the ReLU, as the paper
    does (below zero the ReLU would pass no gradient); on a GAP -> Dense
    head, the CAMs. On a head with a ReLU the statistic ``cam_alive`` (the
    fraction of positive true-class maps) warns of dead CAMs.

    Args:
        masks: (C, M, H, W) masks drawn on the image (any size), mapped onto
            the network's CAM grid through its receptive fields when the
            guide is attached; with ``on_grid`` already on the grid.
        counts: (C,) valid masks per class (0: no prior).
        weight, reg: the paper's lambda_fsa (10) and lambda_reg (0.2).
        stage: 0 (off: a warm-up), 1 (target: union of the masks) or 2 (the
            closest mask); a variable that ``fsa.StageSwitch`` changes. None:
            where the schedule starts (0 with a warm-up, else 1).
        fit_loss: ``"bce"`` or the paper's ``"mse"``; mask_peak: ``"one"``
            rescales each grid mask to peak 1, ``"raw"`` keeps the averages.
        warmup_epochs, stage1_epochs: the schedule its ``callbacks`` set
            (``fsa.StageSwitch``): stage 0 for ``warmup_epochs``, stage 1
            for ``stage1_epochs`` (None: to the end), then stage 2; with
            neither, ``stage`` stays.

    Its callbacks also watch ``cam_alive`` (``fsa.monitor.DeadCamMonitor``):
    a run whose CAMs ended dead fails.
    """

    needs_cams = True

    @property
    def reads(self):
        return ("attend",) if self.attend else ()

    def __init__(self, masks=None, counts=None, weight=10.0, reg=0.2, stage=None, fit_loss="bce",
                 mask_peak="one", on_grid=False, attend=False, warmup_epochs=0,
                 stage1_epochs=None):
        if fit_loss not in FITS:
            raise ValueError(f"ForcedSpatialAttention: fit_loss must be one of {FITS}, got "
                             f"{fit_loss!r}")
        self.attend = bool(attend)
        if self.attend:
            masks, counts = np.zeros((0, 1, 1, 1)), np.zeros((0,))
        elif masks is None or counts is None:
            raise ValueError("ForcedSpatialAttention: give masks (classes, masks, H, W) and "
                             "counts (classes,), or attend=True to fit each image's attend mask")
        self.masks = self.given_masks = np.asarray(masks, np.float32)
        self.counts = np.asarray(counts, np.int32)
        if not self.attend:
            check_masks(self.masks, self.counts, on_grid)
        self.weight, self.reg = float(weight), float(reg)
        if not (self.weight >= 0 and self.reg >= 0):
            raise ValueError(f"ForcedSpatialAttention: weight and reg must be >= 0, got "
                             f"{weight} and {reg}")
        if stage is None:
            stage = 0 if warmup_epochs else 1
        self.initial_stage, self.fit_loss, self.mask_peak = int(stage), fit_loss, mask_peak
        self.on_grid = self.given_on_grid = bool(on_grid)
        self.warmup_epochs = int(warmup_epochs)
        self.stage1_epochs = None if stage1_epochs is None else int(stage1_epochs)
        if self.warmup_epochs < 0 or (self.stage1_epochs or 0) < 0:
            raise ValueError("ForcedSpatialAttention: warmup_epochs and stage1_epochs must be "
                             f">= 0, got {warmup_epochs} and {stage1_epochs}")
        self.stage = None
        self.cam_alive = False

    @classmethod
    def from_mask_file(cls, path, classes, **kwargs):
        """The guide of the mask set in ``path`` (.npz or .json,
        ``fsa.masks.load_masks``) for the data's ``classes``; ``kwargs`` go
        to the constructor."""
        masks, counts = load_masks(path, classes)
        return cls(masks, counts, **kwargs)

    def attach(self, model):
        layer = model.cam_source.feature_layer
        grid = tuple(layer.output.shape[1:3])
        self.stage = keras.Variable(self.initial_stage, dtype="int32", trainable=False,
                                    name="fsa_stage")
        self.cam_alive = model.cam_source.relu
        if self.attend:
            return
        if not self.given_on_grid:  # mapped anew for each model, from the masks given
            geometry, note = receptive_field_or_centres(model.view, layer)
            if note:  # e.g. a layer that resizes the map: masks land on cell centres
                warnings.warn(f"ForcedSpatialAttention: {note}", stacklevel=2)
            self.masks = masks_on_grid(self.given_masks, geometry,
                                       model.view.inputs[0].shape[1:3], self.mask_peak)
            self.on_grid = True
        if tuple(self.masks.shape[2:]) != grid:
            raise ValueError(f"FSA masks on a {self.masks.shape[2:]} grid, but the CAM grid of "
                             f"'{model.network.name}' is {grid}")
        classes = model.view.outputs[0].shape[-1]
        if len(self.masks) != classes:
            raise ValueError(f"FSA masks for {len(self.masks)} classes, but the network has "
                             f"{classes}")

    def variables(self):
        return [self.stage]

    def term_names(self):
        return ("fsa_loss",) if self.weight else ()

    def statistic_names(self):
        return ("cam_alive",) if self.cam_alive else ()

    def terms(self, step):
        if not self.weight:
            return {}
        stage = self.stage.value
        active = tf.cast(stage > 0, tf.float32)
        if self.attend:
            loss = self._attend_loss(step)
        else:
            loss = fsa_loss(step.maps, self.masks, self.counts, step.class_indices,
                            tf.maximum(stage, 1), 1.0, self.reg, self.fit_loss)
        return {"fsa_loss": self.weight * active * loss}

    def _attend_loss(self, step):
        """Each image's ``attend`` mask, averaged onto the CAM grid (peak 1
        with ``mask_peak="one"``), is its target; every class's map is kept
        off other classes' targets."""
        maps = step.maps
        target = tf.image.resize(step.annotation("attend", "ForcedSpatialAttention")[..., None],
                                 tf.shape(maps)[1:3], method="area")[..., 0]
        top = tf.reduce_max(target, axis=(1, 2), keepdims=True)
        if self.mask_peak == "one":
            target = tf.math.divide_no_nan(target, top)
        masked = tf.ones(tf.shape(maps)[3:], tf.bool)
        return fsa_fit(maps, target, step.class_indices, top[:, 0, 0] > 0, masked, 1.0,
                       self.reg, self.fit_loss)

    def statistics(self, step):
        if not self.cam_alive:
            return {}
        true_maps = tf.gather(step.maps, step.class_indices, axis=3, batch_dims=1)
        positive = tf.reduce_sum(tf.cast(true_maps > 0, tf.float32))
        return {"cam_alive": (positive, tf.cast(tf.size(true_maps), tf.float32))}

    def callbacks(self):
        from fsa.monitor import DeadCamMonitor, StageSwitch
        scheduled = self.warmup_epochs or self.stage1_epochs is not None
        switch = StageSwitch(self.stage1_epochs, self.warmup_epochs, guide=self)
        return [*([switch] if scheduled else []), DeadCamMonitor()]

    def fresh(self):
        """The masks as given (not as mapped onto the first network's grid),
        the schedule's first stage."""
        return type(self)(**{**self.get_config(), "stage": self.initial_stage,
                             "masks": None if self.attend else self.given_masks,
                             "on_grid": self.given_on_grid})

    def get_config(self):
        stage = self.initial_stage if self.stage is None else int(self.stage.numpy())
        masks, counts = (None, None) if self.attend else (self.masks.tolist(),
                                                          self.counts.tolist())
        return {"masks": masks, "counts": counts,
                "weight": self.weight, "reg": self.reg, "stage": stage,
                "fit_loss": self.fit_loss, "mask_peak": self.mask_peak,
                "on_grid": self.on_grid, "attend": self.attend,
                "warmup_epochs": self.warmup_epochs, "stage1_epochs": self.stage1_epochs}
