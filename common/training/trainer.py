"""``Trainer``: the hooks through which a method plugs into the harness.

Only what methods differ in, each overridden by one: the harness calls
``check`` (the run's settings), ``adjust_train`` and ``extra_inputs``
(data), ``augmentation``, then inside ``strategy.scope()``
``build_network``, ``build_model`` and ``metrics``; then ``callbacks``,
``class_weight``, ``snapshot_classes`` and ``feature_layer`` (the CAM
snapshots), ``fit``, and ``extra_metrics``. The defaults train the plain CAM
classifier (backbone -> GAP -> Dense) with the guides of the command's flag
groups; what a guide needs in ``fit`` (a schedule, a check that fails the
run) comes with the guide (``Guide.callbacks``).
"""

from common.backbones import BACKBONES, build_backbone
from common.classifier import GuidedClassifier, build_cam_classifier
from common.data.augment import MasksFollow, build_augmentation
from common.errors import named_by
from common.training.cli import ConfigError
from common.training.guide_flags import check_boxes_stay


def parse_brightness(value):
    """'low,high' -> (low, high) or None for 'none'."""
    if str(value).lower() == "none":
        return None
    try:
        brightness = tuple(float(v) for v in str(value).split(","))
        assert len(brightness) == 2 and 0 <= brightness[0] <= brightness[1]
    except (ValueError, AssertionError):
        raise ConfigError(f"--brightness: expected 'low,high' with 0 <= low <= high, got "
                          f"{value!r}") from None
    return brightness


class Trainer:
    """Hooks of one method (see the module docstring for when each runs);
    ``args`` is the run's read-only ``Settings``."""

    true_class_maps = False  # CAM snapshots show the true class's map, not the predicted

    def __init__(self, command):
        self.command = command

    def guides(self, args, data):
        """The guides of the command's flag groups (``TrainCommand.shared``),
        in their order: a method adds its own before them."""
        return [guide for group in self.command.shared if group.guides
                for guide in group.guides(args, data)]

    def annotations(self, args):
        """{annotation: flag}: what the groups' guides read from the data."""
        needed = {}
        for group in self.command.shared:
            for name, flag in (group.reads(args) if group.reads else {}).items():
                needed.setdefault(name, flag)
        return needed

    def check(self, args):
        """Method-specific checks of the resolved args (raise ConfigError)."""
        if self.needs_backbone(args) and args.backbone not in BACKBONES:
            raise ConfigError(f"--backbone: unknown backbone '{args.backbone}'; expected "
                              f"one of {sorted(BACKBONES)}")
        check_boxes_stay(args, self.annotations(args))
        parse_brightness(args.brightness)
        if args.crop_from is not None and args.crop_from < args.image_size:
            raise ConfigError(f"--crop-from: expected at least --image-size "
                              f"({args.image_size}), got {args.crop_from}")

    def augmentation(self, args):
        """A callable on batches of training images (or the inputs dict), or None."""
        augment = build_augmentation(None if args.flip == "none" else args.flip,
                                     args.rotation, args.translation, args.zoom,
                                     parse_brightness(args.brightness), args.channel_shift,
                                     seed=args.seed, crop=None if args.crop_from is None
                                     else (args.crop_from, args.image_size))
        masks = set(self.annotations(args)) & {"ignore", "attend"}
        return MasksFollow(augment) if augment is not None and masks else augment

    def needs_backbone(self, args):
        """Whether the network is built on ``--backbone`` (a helper)."""
        return True

    def build_backbone(self, args):
        """The ``--backbone`` with its ``--weights`` (a helper, not a hook)."""
        return build_backbone(args.backbone, (args.image_size, args.image_size, 3),
                              args.weights)

    def build_network(self, args, num_classes, multi_label):
        """The deployable classifier: backbone -> GAP -> Dense."""
        return build_cam_classifier(self.build_backbone(args), num_classes, multi_label)

    def build_model(self, args, network, data):
        """The model ``fit`` trains: a GuidedClassifier around ``network`` with
        the guides of the flag groups (``guides``)."""
        return GuidedClassifier(network, guides=self.guides(args, data))

    def metrics(self, args, multi_label):
        return ["binary_accuracy"] if multi_label else ["accuracy"]

    def adjust_train(self, args, train, classes):
        """The training table to use (e.g. with a class oversampled)."""
        return train

    def extra_inputs(self, args, table, data):
        """Dict name -> per-row arrays the network takes besides the image, or None."""
        return None

    def callbacks(self, args, run, data):
        return []

    def class_weight(self, args, data):
        """Dict class index -> loss weight for fit(), or None."""
        return None

    def snapshot_classes(self, args, data):
        """Class names in the order the CAM snapshots show them (one image
        per class first)."""
        return list(data.classes)

    def feature_layer(self, args):
        """Layer whose Grad-CAM the per-epoch snapshots show (None: the last
        4-D layer)."""
        return None

    def extra_metrics(self, args, network, data, probabilities, shard):
        """The method's own entries of metrics.json. ``probabilities``: the
        whole test table's; ``shard`` (``common.training.sharded_predict.Shard``):
        the test rows this process scores, with ``gather`` / ``sum`` to
        combine the workers' parts. Every worker calls it under a
        multi-worker strategy, so work over the images is split."""
        return {}


class OwnNetworkTrainer(Trainer):
    """attention-train's hooks: the plain CAM classifier or your own network
    (``--network`` behind ``--network-input``), with the flags' guides."""

    def needs_backbone(self, args):
        return not args.network

    def build_network(self, args, num_classes, multi_label):
        if not args.network:
            return super().build_network(args, num_classes, multi_label)
        from common.networks import load_network, with_input_range
        with named_by("--network", "spec"):
            network = load_network(args.network, (args.image_size, args.image_size, 3),
                                   num_classes)
        with named_by("--network-input", "input_range"):
            return with_input_range(network, args.network_input)
