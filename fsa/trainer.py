"""The FSA hooks of the training harness (``python -m fsa.train``)."""

import os
import sys

from common.classifier import GuidedClassifier
from common.errors import printable, quoted
from common.training.cli import ConfigError
from common.training.guide_flags import shared_guides
from common.training.trainer import Trainer
from fsa.guide import ForcedSpatialAttention
from fsa.masks import load_masks, small_masks
from fsa.network import build_cam_network, build_squeezenet

# variant -> (stage after the warm-up, it stays for the whole run)
STAGES = {"ce": (1, True), "mse": (1, True), "stage1": (1, True), "stage2": (2, True),
          "fsa": (1, False)}


class FsaTrainer(Trainer):
    true_class_maps = True

    def check(self, args):
        super().check(args)
        if args.epochs is None:
            args.epochs = args.warmup_epochs + args.stage1_epochs + args.stage2_epochs
        user_data = args.data and not str(args.data).startswith("demo:")
        if user_data and not args.masks and args.variant != "ce":
            raise ConfigError("--masks is required with --data (a .npz or .json mask "
                              "set, see fsa.masks)")

    def build_network(self, args, num_classes, multi_label):
        shape = (args.image_size, args.image_size, 3)
        if args.backbone == "squeezenet1_1":
            return build_squeezenet(num_classes, shape, args.weights)
        return build_cam_network(self.build_backbone(args), num_classes)

    def build_model(self, args, network, data):
        path = args.masks or os.path.join(data.folder, "masks.npz")
        masks, counts = load_masks(path, data.classes)
        stage, fixed = STAGES[args.variant]
        # the schedule: stage 1 for --stage1-epochs (variant fsa), or the
        # variant's stage for the whole run, after --warmup-epochs
        stage1_epochs = args.stage1_epochs if not fixed else None if stage == 1 else 0
        guide = ForcedSpatialAttention(
            masks, counts, weight=0.0 if args.variant == "ce" else args.lambda_fsa,
            reg=0.0 if args.variant == "mse" else args.lambda_reg,
            stage=0 if args.warmup_epochs else stage, fit_loss=args.fit_loss,
            mask_peak=args.mask_peak, warmup_epochs=args.warmup_epochs,
            stage1_epochs=stage1_epochs)
        model = GuidedClassifier(network, guides=[guide, *shared_guides(args)])
        self.counts = dict(zip(data.classes, counts))
        grid = guide.masks.shape[2:]
        for name in small_masks(guide.masks, counts, data.classes):
            print(f"fsa: warning: the mask of class {quoted(printable(name))} covers fewer than "
                  f"2 cells above 0.5 of the {grid[0]}x{grid[1]} CAM grid, so it cannot shape "
                  "the CAM; use a larger --image-size or a larger mask sigma", file=sys.stderr)
        return model

    def snapshot_classes(self, args, data):
        """Classes with a spatial prior first: their maps show the masks at work."""
        return sorted(data.classes, key=lambda name: self.counts[name] == 0)

    def extra_metrics(self, args, network, data, probabilities):
        return {"variant": args.variant}  # cam_alive: the guide's DeadCamMonitor
