"""The guides' short flags, one ``FlagGroup`` per guide: its flags, their
defaults, the registered guide they build and the annotations it reads.

A command lists the groups it offers (``TrainCommand.shared``) and its
trainer builds their guides in that order (``Trainer.guides``), so each
group reads only its own settings. Every short flag is one argument of the
registered guide (``arguments``): ``--hnc-k 3`` is ``--guide hnc
--guide-arg hnc.k=3`` is ``HomogeneousNegativeCam(k=3)`` is ``hnc_k: 3`` in
YAML (a test builds both ways and compares); FSA's ``--fsa-weight`` is its
``weight``. The
guides are found by their registered names (``common.guide_registry``), so
``common`` names no method package, and nothing heavy loads for ``--help``.
"""

from common.training.cli import Flag, FlagGroup

ATTEND = "attend"  # --masks attend: FSA fits each image's attend mask


def registered_class(name):
    """The guide class registered as ``name`` (``hint``, ``occlusion``, ...)."""
    from common.guide_registry import GROUP, registered
    from common.training.cli import ConfigError
    points = registered()
    if name not in points:
        raise ConfigError(f"no guide '{name}' is installed in the entry-point group {GROUP}: "
                          "reinstall the toolkit (pip install -e .)")
    return points[name].load()


def guide_group(title, name, flags, defaults, switch, arguments, reads=None, build=None,
                renamed=None):
    """A FlagGroup whose guide ``name`` is on when its ``switch`` flag is set
    (non-zero), built with ``{argument: settings[flag]}`` for ``arguments``
    (flag -> argument); ``build(cls, settings, data, kwargs)`` replaces the
    plain call; ``reads(settings)`` -> {annotation: flag}."""
    def guides(settings, data):
        if not settings[switch]:
            return []
        cls = registered_class(name)
        kwargs = {argument: settings[flag] for flag, argument in arguments.items()}
        return [build(cls, settings, data, kwargs) if build else cls(**kwargs)]

    def annotations(settings):
        return (reads(settings) if reads else {}) if settings[switch] else {}
    return FlagGroup(title, flags, defaults, guides=guides, reads=annotations,
                     arguments={flag: f"{name}.{argument}" for flag, argument in
                                arguments.items()}, renamed=renamed or {})


def _option(flag):
    return "--" + flag.replace("_", "-")


def _reads(annotation, flag):
    return lambda settings: {annotation: _option(flag)}


FSA_FLAGS = {
    "fsa_weight": Flag(float, "weight of the FSA loss (the paper's lambda_fsa)", low=0.0),
    "fsa_reg": Flag(float, "overlap term inside the FSA loss (the paper's lambda_reg)",
                    low=0.0),
    "fsa_fit_loss": Flag(str, "first term of the FSA loss: bce on the CAM logits, or the "
                              "paper's mse on their sigmoid", ("bce", "mse")),
    "fsa_mask_peak": Flag(str, "grid masks rescaled to peak 1 (one) or kept as averaged (raw)",
                          ("one", "raw")),
    "fsa_warmup_epochs": Flag(int, "epochs of cross-entropy only before the FSA loss starts",
                              low=0),
    "fsa_stage1_epochs": Flag(int, "epochs of FSA stage 1 (the union of a class's masks) "
                                   "after the warm-up, then stage 2 (the closest mask); "
                                   "unset: stage 1 to the end", low=0),
}
FSA_DEFAULTS = {"fsa_weight": 10.0, "fsa_reg": 0.2, "fsa_fit_loss": "bce",
                "fsa_mask_peak": "one", "fsa_warmup_epochs": 0, "fsa_stage1_epochs": None}
# flag -> the argument of the guide registered as 'fsa'
FSA_ARGUMENTS = {"fsa_weight": "weight", "fsa_reg": "reg", "fsa_fit_loss": "fit_loss",
                 "fsa_mask_peak": "mask_peak", "fsa_warmup_epochs": "warmup_epochs",
                 "fsa_stage1_epochs": "stage1_epochs"}


def _fsa(cls, settings, data, kwargs):
    from common.errors import named_by
    if settings["masks"] == ATTEND:
        return cls(attend=True, **kwargs)
    with named_by("--masks", "path"):
        return cls.from_mask_file(settings["masks"], data.classes, **kwargs)


FSA = guide_group(
    "Forced Spatial Attention guide", "fsa", {
        "masks": Flag(str, "a mask set (.npz or .json, see docs/fsa.md) for the data's "
                           "classes, or 'attend': each image's attend mask (default: off)"),
        **FSA_FLAGS}, {"masks": None, **FSA_DEFAULTS}, "masks", FSA_ARGUMENTS,
    reads=lambda s: {ATTEND: "--masks attend"} if s["masks"] == ATTEND else {}, build=_fsa)
OCCLUSION = guide_group(
    "Grad-CAM occlusion guide", "occlusion", {
        "p": Flag(float, "probability that a batch is occluded (0: off)", low=0.0, high=1.0),
        "threshold": Flag(float, "occlude pixels whose normalised Grad-CAM exceeds this",
                          low=0.0, high=1.0, open_high=True),
        "occlusion_mode": Flag(str, "value of occluded pixels", ("zero", "one", "random")),
    }, {"p": 0.0, "threshold": 0.85, "occlusion_mode": "zero"}, "p",
    {"p": "p", "threshold": "threshold", "occlusion_mode": "mode", "seed": "seed"},
    renamed={"occlusion": "occlusion_mode"})
COUNTEREXAMPLES = guide_group(
    "counterexamples guide", "counterexamples", {
        "counterexamples": Flag(float, "Teso and Kersting 2019: share of each batch whose "
                                       "'ignore' region is replaced by noise before the "
                                       "step (0: off)", low=0.0, high=1.0),
    }, {"counterexamples": 0.0}, "counterexamples",
    {"counterexamples": "share", "seed": "seed"}, reads=_reads("ignore", "counterexamples"))
BOX_ENERGY = guide_group(
    "box energy guide", "box_energy", {
        "box_energy": Flag(float, "Rao et al. 2023: weight of minus the share of the true "
                                  "class's CAM energy inside the data's boxes (0: off)",
                           low=0.0),
        "box_energy_region": Flag(str, "where --box-energy wants the energy: the data's "
                                       "boxes or its 'attend' masks", ("boxes", ATTEND)),
    }, {"box_energy": 0.0, "box_energy_region": "boxes"}, "box_energy",
    {"box_energy": "weight", "box_energy_region": "region"},
    reads=lambda s: ({ATTEND: "--box-energy-region attend"}
                     if s["box_energy_region"] == ATTEND else {"boxes": "--box-energy"}))


def weight_group(title, name, help_text, annotation):
    """The group of a guide with one flag, ``--NAME W``: its weight, reading
    ``annotation`` of the data."""
    return guide_group(title, name, {name: Flag(float, help_text + " (0: off)", low=0.0)},
                       {name: 0.0}, name, {name: "weight"}, reads=_reads(annotation, name))


HINT = weight_group(
    "HINT guide", "hint", "Selvaraju et al. 2019: weight of the ranking loss between the "
    "true class's gradient importance and the data's 'attend' masks", ATTEND)
INPUT_GRADIENT = weight_group(
    "input-gradient guide", "input_gradient", "Right for the Right Reasons, Ross et al. "
    "2017: weight of the squared input gradient inside the data's 'ignore' masks (a CSV "
    "column; the paper's 1000)", "ignore")
GRADCAM_PENALTY = weight_group(
    "Grad-CAM penalty guide", "gradcam_penalty", "RRR-G, Schramowski et al. 2020: weight "
    "of the true class's squared Grad-CAM inside the data's 'ignore' masks", "ignore")
HNC = guide_group(
    "homogeneous negative CAM loss", "hnc", {
        "hnc_weight": Flag(float, "weight of the homogeneous negative CAM loss (0: off)",
                           low=0.0),
        "hnc_k": Flag(int, "negative classes per image in the HNC loss (default: all)", low=1),
        "hnc_variant": Flag(str, "HNC loss variant", ("mse", "kd")),
    }, {"hnc_weight": 0.0, "hnc_k": None, "hnc_variant": "mse"}, "hnc_weight",
    {"hnc_weight": "weight", "hnc_k": "k", "hnc_variant": "variant"})


def _registered_guides(settings, data):
    from common.guide_registry import build
    return [guide for _, guide in build(settings["guide"], settings["guide_arg"],
                                        seed=settings["seed"])]


def _registered_reads(settings):
    from common.guide_registry import build
    return {annotation: f"--guide {name}"
            for name, guide in reversed(build(settings["guide"], settings["guide_arg"],
                                              seed=settings["seed"]))
            for annotation in guide.reads}


BY_NAME = FlagGroup("guides by name", {
    "guide": Flag(str, "a guide by its registered name (entry-point group "
                       "attention_guided.guides: the toolkit's, listed in docs/guides.md, and "
                       "any installed package's); repeat it to compose guides", repeat=True),
    "guide_arg": Flag(str, "NAME.key=value: an argument of --guide NAME's constructor, the "
                           "value a YAML scalar (number, true/false, null, string); "
                           "repeatable", repeat=True),
}, {"guide": [], "guide_arg": []}, guides=_registered_guides, reads=_registered_reads)
