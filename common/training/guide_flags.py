"""The guides ``attention-train`` composes from its flags, in any
combination: ``--masks`` (FSA), ``--p`` (Grad-CAM occlusion),
``--box-energy`` (boxes), ``--input-gradient`` and ``--counterexamples``
(the data's ``ignore`` masks), ``--hnc-weight`` (HNC, a flag group the
method trainers share: ``HNC``, ``shared_guides``), then any
registered guide by name (``--guide NAME --guide-arg NAME.key=value``,
``common.guide_registry``), each declaring the annotations it reads
(``reads``). The method packages' guides are found by their registered
names (``common.guide_registry``) when used, so ``common`` names no method
package."""

from common.data.image_header import file_size
from common.training.cli import ConfigError, Flag, FlagGroup

ATTEND = "attend"  # --masks attend: FSA fits each image's attend mask
GEOMETRIC = ("flip", "rotation", "translation", "zoom", "crop_from")
# The homogeneous negative CAM loss (common.HomogeneousNegativeCam), for the
# trainers whose models have CAMs (TrainCommand.shared); cheap to import.
HNC = FlagGroup("homogeneous negative CAM loss", {
    "hnc_weight": Flag(float, "weight of the homogeneous negative CAM loss (0: off)", low=0.0),
    "hnc_k": Flag(int, "negative classes per image in the HNC loss (default: all)", low=1),
    "hnc_variant": Flag(str, "HNC loss variant", ("mse", "kd")),
}, {"hnc_weight": 0.0, "hnc_k": None, "hnc_variant": "mse"})


def registered_class(name):
    """The guide class registered as ``name`` (``hint``, ``occlusion``, ...)."""
    from common.guide_registry import GROUP, registered
    points = registered()
    if name not in points:
        raise ConfigError(f"no guide '{name}' is installed in the entry-point group {GROUP}: "
                          "reinstall the toolkit (pip install -e .)")
    return points[name].load()


def registered_guides(args):
    """[(name, guide)]: fresh instances of the ``--guide`` guides with their
    ``--guide-arg`` arguments, in order (the run's ``--seed`` for a guide
    that takes ``seed`` and is not given one)."""
    from common.guide_registry import build
    return build(getattr(args, "guide", None) or [], getattr(args, "guide_arg", None) or [],
                 seed=getattr(args, "seed", None))


def check_guide_flags(args):
    """The ``--guide`` guides are built once with their arguments, and a
    guide that reads boxes (box energy) needs boxes that stay on their
    objects: no geometric augmentation with it (said before the data loads)."""
    flag = required_annotations(args).get("boxes")
    if flag:
        moved = [f"--{name.replace('_', '-')}" for name in GEOMETRIC
                 if getattr(args, name, None) not in (None, 0.0, "none")]
        if moved:
            raise ConfigError(f"{flag}: the boxes do not move with {', '.join(moved)}; "
                              "train a guide that reads boxes without geometric augmentation")


def _box_region(args):
    return getattr(args, "box_energy_region", None) or "boxes"


def shared_guides(args):
    """The guides of the shared flag groups (``HNC``), which every trainer
    offering them adds after its own."""
    if not getattr(args, "hnc_weight", 0.0):
        return []
    from common.guidance import HomogeneousNegativeCam
    return [HomogeneousNegativeCam(args.hnc_weight, args.hnc_k, args.hnc_variant or "mse")]


def guides_from_flags(args, data):
    """The guides the flags ask for, then the ``--guide`` guides in their
    order, then the shared groups' (HNC)."""
    guides = []
    if getattr(args, "masks", None) == ATTEND:
        guides.append(registered_class("fsa")(attend=True, weight=args.fsa_weight,
                                              reg=args.fsa_reg))
    elif getattr(args, "masks", None):
        guides.append(registered_class("fsa").from_mask_file(
            args.masks, data.classes, weight=args.fsa_weight, reg=args.fsa_reg))
    if getattr(args, "p", 0.0):
        guides.append(registered_class("occlusion")(args.p, args.threshold, args.occlusion,
                                                    args.seed))
    if getattr(args, "box_energy", 0.0):
        from common.guidance import BoxEnergy
        guides.append(BoxEnergy(args.box_energy, _box_region(args)))
    if getattr(args, "hint", 0.0):
        from common.hint import Hint
        guides.append(Hint(args.hint))
    if getattr(args, "input_gradient", 0.0):
        from common.input_gradient import InputGradientPenalty
        guides.append(InputGradientPenalty(args.input_gradient))
    if getattr(args, "gradcam_penalty", 0.0):
        from common.gradcam_penalty import GradCamPenalty
        guides.append(GradCamPenalty(args.gradcam_penalty))
    if getattr(args, "counterexamples", 0.0):
        from common.counterexamples import Counterexamples
        guides.insert(0, Counterexamples(args.counterexamples, seed=args.seed))  # first
    return guides + [guide for _, guide in registered_guides(args)] + shared_guides(args)


# flag -> the annotation of the data its guide reads
ANNOTATION_FLAGS = {"box_energy": "boxes", "input_gradient": "ignore",
                    "gradcam_penalty": "ignore", "counterexamples": "ignore", "hint": "attend"}


def required_annotations(args):
    """{annotation: flag} the flags' guides read from the data."""
    needed = {name: f"--{flag.replace('_', '-')}" for flag, name in ANNOTATION_FLAGS.items()
              if getattr(args, flag, 0.0)}
    if getattr(args, "box_energy", 0.0) and _box_region(args) == ATTEND:
        del needed["boxes"]
        needed.setdefault(ATTEND, "--box-energy-region attend")
    if getattr(args, "masks", None) == ATTEND:
        needed.setdefault(ATTEND, "--masks attend")
    if getattr(args, "guide", None):
        for name, guide in registered_guides(args):
            for annotation in getattr(guide, "reads", ()) or ():
                needed.setdefault(annotation, f"--guide {name}")
    return needed


def check_annotations(args, table, source):
    """A guide that reads an annotation the data does not have would train
    with a zero term: refused in one line, before training."""
    from common.data.tables import DataError
    for name, flag in required_annotations(args).items():
        present = (table["boxes"].map(len).gt(0).any() if name == "boxes"
                   else name in table and table[name].ne("").any())
        if not present:
            what = ("x0,y0,x1,y1 box columns" if name == "boxes"
                    else f"an '{name}' column naming a mask image per row")
            raise DataError(f"{flag}: '{source}' has no {name} for any image; its guide needs "
                            f"a CSV with {what}")


def mask_paths(table, name):
    """The table's mask files of annotation ``name`` (empty: none; checked
    with the images by ``common.data.validate``)."""
    import numpy as np
    return table[name].to_numpy().astype(str) if name in table else np.full(len(table), "")


def normalised_boxes(table):
    """(N, M, 4) float32 ``[y1, x1, y2, x2]`` in [0, 1] from the table's pixel
    ``boxes`` (``x0, y0, x1, y1`` on the image file) and each image's size
    read from its header; rows of zeros pad images with fewer boxes."""
    import numpy as np
    most = max(1, max((len(b) for b in table["boxes"]), default=1))
    out = np.zeros((len(table), most, 4), np.float32)
    for row, (path, boxes) in enumerate(zip(table["path"], table["boxes"])):
        if not len(boxes):
            continue
        height, width = file_size(path)
        for index, (x0, y0, x1, y1) in enumerate(list(boxes)[:most]):
            out[row, index] = (y0 / height, x0 / width, y1 / height, x1 / width)
    return np.clip(out, 0.0, 1.0)
