"""The FSA hooks of the training harness (``python -m fsa.train``): the
FSA guide of the variant, then the shared groups' guides."""

import os
import sys

from common.classifier import GuidedClassifier
from common.errors import named_by, printable, quoted
from common.training.guide_groups import FSA_ARGUMENTS
from common.training.trainer import Trainer
from fsa.guide import ForcedSpatialAttention
from fsa.masks import small_masks
from fsa.network import build_cam_network, build_squeezenet

# variant -> (stage after the warm-up, it stays for the whole run)
STAGES = {"ce": (1, True), "mse": (1, True), "stage1": (1, True), "stage2": (2, True),
          "fsa": (1, False)}


def variant_guide(args, classes, folder):
    """The FSA guide of ``--variant`` with the FSA flags (the arguments
    ``attention-train --masks`` gives it): ce has no FSA loss, mse no overlap
    term; stage1/stage2 keep their stage, fsa switches after stage 1."""
    options = {argument: args[flag] for flag, argument in FSA_ARGUMENTS.items()}
    stage, fixed = STAGES[args.variant]
    options.update(stage=0 if options["warmup_epochs"] else stage,
                   stage1_epochs=(None if stage == 1 else 0) if fixed
                   else options["stage1_epochs"])
    if args.variant == "ce":
        options["weight"] = 0.0
    if args.variant == "mse":
        options["reg"] = 0.0
    path = args.masks or os.path.join(folder, "masks.npz")
    with named_by("--masks", "path"):
        return ForcedSpatialAttention.from_mask_file(path, classes, **options)


class FsaTrainer(Trainer):
    true_class_maps = True

    def build_network(self, args, num_classes, multi_label):
        shape = (args.image_size, args.image_size, 3)
        if args.backbone == "squeezenet1_1":
            return build_squeezenet(num_classes, shape, args.weights)
        return build_cam_network(self.build_backbone(args), num_classes)

    def build_model(self, args, network, data):
        guide = variant_guide(args, data.classes, data.folder)
        model = GuidedClassifier(network, guides=[guide, *self.guides(args, data)])
        self.counts = dict(zip(data.classes, guide.counts))
        grid = guide.masks.shape[2:]
        for name in small_masks(guide.masks, guide.counts, data.classes):
            print(f"fsa: warning: the mask of class {quoted(printable(name))} covers fewer than "
                  f"2 cells above 0.5 of the {grid[0]}x{grid[1]} CAM grid, so it cannot shape "
                  "the CAM; use a larger --image-size or a larger mask sigma", file=sys.stderr)
        return model

    def snapshot_classes(self, args, data):
        """Classes with a spatial prior first: their maps show the masks at work."""
        return sorted(data.classes, key=lambda name: self.counts[name] == 0)

    def extra_metrics(self, args, network, data, probabilities, shard):
        return {"variant": args.variant}  # cam_alive: the guide's DeadCamMonitor
