"""Guides: the composable parts of guided training.

A guide owns one guidance term. ``GuidedClassifier(network, guides=[...])``
runs the step; each guide may change the batch before it (``prepare``:
occlusion) and returns weighted terms and statistics from a ``Step``, which
computes the CAMs once and shares them between guides. Writing a guide:

    @keras.saving.register_keras_serializable(package="mine")
    class Centred(common.Guide):
        needs_cams = True
        def __init__(self, weight=1.0):
            self.weight = float(weight)
        def term_names(self):
            return ("centred_loss",) if self.weight else ()
        def terms(self, step):
            cams = step.true_class_cams()        # (B, h, w)
            return {"centred_loss": self.weight * tf.reduce_mean(cams[:, 0] ** 2)}
        def get_config(self):
            return {"weight": self.weight}

A *term* is a float32 scalar, the mean over this replica's images, or a pair
``(sum, count)`` when its denominator is not the number of images;
``GuidedClassifier`` turns it into the global-batch mean (replicas, uneven
last batch). Guides run inside the traced step: ``tf`` ops, ``tf.random``,
no Python randomness; variables only in ``attach``.
"""

import weakref

import keras
import tensorflow as tf

from common.box_energy import box_energy_sum_and_count, region_energy_sum_and_count
from common.cam_sources import CamSource
from common.losses import HNC_VARIANTS, hnc_sum_and_count


class Guide:
    """Base class: a guide that adds nothing. Override what you need."""

    needs_cams = False  # refused on a network without a CAM source
    needs_input_gradients = False  # the step then computes ``Step.input_gradients``
    # The annotations of the data it reads ("boxes", "ignore", "attend"):
    # attention-train gives them and refuses data without them, in one line.
    reads = ()

    def term_names(self):
        """Names of the weighted loss terms this guide adds (shown in the
        progress bar and history); a zero weight should declare none."""
        return ()

    def statistic_names(self):
        """Names of values shown but not trained on."""
        return ()

    def attach(self, model):
        """Called once by ``GuidedClassifier`` with itself (``model.network``,
        ``model.cam_source``): check the network, create variables."""

    def variables(self):
        """Variables created in ``attach`` (saved with the training model)."""
        return []

    def prepare(self, model, x, y):
        """(inputs to train on, statistics) before the training step."""
        return x, {}

    def terms(self, step):
        """{name: weighted term} for every name of ``term_names``."""
        return {}

    def statistics(self, step):
        return {}

    def callbacks(self):
        """Fresh Keras callbacks a ``fit()`` with this guide needs (a
        schedule, a check); ``GuidedClassifier.guide_callbacks`` collects
        them and the toolkit's commands add them. A ``GuideCheck`` among
        them also says whether the finished run failed and adds entries to
        metrics.json."""
        return []

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def fresh(self):
        """A new guide with this one's arguments and no model's state: what
        a second model gets (``owned_by``). Override where ``get_config``
        records what ``attach`` derived from the first model."""
        return type(self).from_config(self.get_config())


def owned_by(guide, model):
    """``guide`` for ``model``: the guide itself when it guides no other live
    model, else ``guide.fresh()``. A guide's variables and what it derived
    from a network (FSA's masks on its CAM grid) belong to one model, so two
    models never share them."""
    owner = guide.__dict__.get("_guided_model")
    if owner is not None and owner() not in (None, model):
        guide = guide.fresh()
    guide._guided_model = weakref.ref(model)
    return guide


class GuideCheck(keras.callbacks.Callback):
    """A guide's callback that judges the run (``Guide.callbacks``): the
    commands write ``run_metrics()`` into metrics.json and fail a run whose
    ``failure()`` is not None (a FAILED note, exit status 1)."""

    def failure(self):
        """Why the finished run failed, or None."""
        return None

    def run_metrics(self):
        """{name: value} for metrics.json."""
        return {}


class Step:
    """What guides see of one step on one replica: ``inputs`` (what the
    network takes), ``images`` (B, H, W, 3), ``labels``, ``features`` (the
    CAM source's layer output), ``predictions`` (the network's output),
    ``extras`` (guide-only inputs, e.g. ``boxes``), ``training``.
    ``cams``/``maps`` are computed on first use, once per step."""

    def __init__(self, model, inputs, images, labels, features, predictions, extras=None,
                 training=True, input_gradients=None):
        self.model, self.inputs, self.images = model, inputs, images
        self.labels, self.features, self.predictions = labels, features, predictions
        self.extras, self.training = extras or {}, training
        # d(sum of log-probabilities)/d(images), (B, H, W, 3): only where a
        # guide has ``needs_input_gradients``; else None.
        self.input_gradients = input_gradients
        self._cams = self._maps = None

    def annotation(self, name, guide):
        """The (B, H, W) float32 mask ``name`` ("ignore", "attend") of this
        batch; a ValueError naming ``guide`` when the inputs lack it."""
        if name not in self.extras:
            raise ValueError(f"{guide}: the inputs have no '{name}' mask (B, H, W); give it "
                             f"beside the image: fit({{'image': x, '{name}': masks}}, y)")
        return tf.cast(self.extras[name], tf.float32)

    @property
    def cams(self):
        """(B, h, w, K) float32; the spatial mean of class k's map is its logit."""
        if self._cams is None:
            self._cams = self.model.cam_source.cams(self.features)
        return self._cams

    @property
    def maps(self):
        """The head's pre-activation maps (FSA fits these); the CAMs on a
        head without a ReLU."""
        source = self.model.cam_source
        if type(source).maps is CamSource.maps:  # the maps are the CAMs: computed once
            return self.cams
        if self._maps is None:
            self._maps = source.maps(self.features)
        return self._maps

    @property
    def class_indices(self):
        """(B,) int32 true class (argmax of one-hot labels). Refused for a
        sigmoid (multi-label) network: the argmax would guide only the first
        of an image's positive classes."""
        if getattr(self.model, "output_kind", None) == "sigmoid":
            raise ValueError("these guides follow each image's one true class, and a sigmoid "
                             "(multi-label) network has several: train multi-label models "
                             "without class-map guides")
        labels = tf.convert_to_tensor(self.labels)
        if labels.shape.rank == 2:
            labels = tf.argmax(labels, axis=-1)
        return tf.cast(tf.reshape(labels, (-1,)), tf.int32)

    def true_class_cams(self):
        """(B, h, w) CAM of each image's true class."""
        return tf.gather(self.cams, self.class_indices, axis=3, batch_dims=1)


@keras.saving.register_keras_serializable(package="common")
class HomogeneousNegativeCam(Guide):
    """Homogeneous negative CAM loss (Sun et al., ECCV 2020,
    ``common.losses``): flattens the CAMs of the ``k`` most confusing absent
    classes; term ``hnc_loss``."""

    needs_cams = True
    reads = ()

    def __init__(self, weight=0.07, k=None, variant="mse", temperature=1.0):
        if variant not in HNC_VARIANTS:
            raise ValueError(f"HomogeneousNegativeCam: variant must be one of {HNC_VARIANTS}, "
                             f"got {variant!r}")
        if not float(weight) >= 0 or not float(temperature) > 0 or (k is not None and k < 1):
            raise ValueError(f"HomogeneousNegativeCam: expected weight >= 0, k >= 1 (or None: "
                             f"all absent classes) and temperature > 0, got weight {weight}, "
                             f"k {k}, temperature {temperature}")
        self.weight, self.k = float(weight), None if k is None else int(k)
        self.variant, self.temperature = variant, float(temperature)

    def term_names(self):
        return ("hnc_loss",) if self.weight else ()

    def terms(self, step):
        total, count = hnc_sum_and_count(step.cams, step.labels, self.k, self.variant,
                                         self.temperature)
        return {"hnc_loss": (self.weight * total, count)}

    def get_config(self):
        return {"weight": self.weight, "k": self.k, "variant": self.variant,
                "temperature": self.temperature}


SAVED_HNC_KEYS = ("hnc_weight", "hnc_k", "hnc_variant", "hnc_temperature")


def guides_of_saved_keys(config):
    """Pops the ``hnc_*`` keys that configs saved before HNC became a guide
    hold (``GuidedClassifier`` and the method models took them as
    arguments) and returns the ``HomogeneousNegativeCam`` they asked for:
    [] when its weight is 0 or there are none."""
    options = {key[len("hnc_"):]: config.pop(key) for key in SAVED_HNC_KEYS if key in config}
    return [HomogeneousNegativeCam(**options)] if options.get("weight") else []


@keras.saving.register_keras_serializable(package="common")
class BoxEnergy(Guide):
    """The energy loss of Rao et al. ("Studying how to efficiently and
    effectively guide models with explanations", ICCV 2023): minus the share
    of the true class's positive CAM energy (upsampled to the image) that
    falls inside the image's region: its ``boxes`` (B, M, 4) normalised
    ``[y1, x1, y2, x2]``, rows of zeros for padding; or, with
    ``region="attend"``, its ``attend`` mask (B, H, W). Images without a
    region add nothing. The gradient stays alive when the map is <= 0 all
    over the region (``common.box_energy.region_energy_sum_and_count``).
    Term ``box_energy``."""

    needs_cams = True
    REGIONS = ("boxes", "attend")

    @property
    def reads(self):
        return (self.region,)

    def __init__(self, weight=1.0, region="boxes"):
        weight = float(weight)
        if not weight >= 0:
            raise ValueError(f"BoxEnergy: weight must be >= 0, got {weight}")
        if region not in self.REGIONS:
            raise ValueError(f"BoxEnergy: region must be one of {self.REGIONS}, got {region!r}")
        self.weight, self.region = weight, region

    def term_names(self):
        return ("box_energy",) if self.weight else ()

    def terms(self, step):
        cams = step.true_class_cams()
        if self.region == "attend":
            total, count = region_energy_sum_and_count(cams, step.annotation("attend",
                                                                             "BoxEnergy"))
        elif "boxes" not in step.extras:
            raise ValueError("BoxEnergy: the inputs have no 'boxes' (B, M, 4); train on data "
                             "with boxes (a table's x0,y0,x1,y1 columns)")
        else:
            total, count = box_energy_sum_and_count(cams, step.extras["boxes"],
                                                    tf.shape(step.images)[1:3])
        return {"box_energy": (-self.weight * total, count)}

    def get_config(self):
        return {"weight": self.weight, "region": self.region}
