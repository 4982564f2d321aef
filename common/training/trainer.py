"""``Trainer``: the hooks through which a method plugs into the harness.

The harness calls them in this order: ``check`` (resolved args), ``adjust_train``
and ``extra_inputs`` (data), ``augmentation``, then inside
``strategy.scope()``: ``build_network``, ``build_model``, ``optimizer``,
``metrics``; then ``callbacks``, ``class_weight``, ``snapshot_classes`` and
``feature_layer`` (the CAM snapshots), ``fit``, ``export``, ``extra_metrics``
and ``failure``. The defaults train the
plain CAM classifier (backbone -> GAP -> Dense) with the guides of the flags.
"""

import keras

from common.backbones import build_backbone
from common.classifier import GuidedClassifier, build_cam_classifier
from common.data.augment import MasksFollow, build_augmentation
from common.networks import load_network, with_input_range
from common.training.cli import ConfigError
from common.training.guide_flags import (check_guide_flags, guides_from_flags, mask_paths,
                                         normalised_boxes, required_annotations)


def make_optimizer(name, lr, momentum=0.9, weight_decay=0.0, epsilon=1e-7):
    """``sgd`` (with momentum) or ``adam``; a non-zero ``weight_decay`` is
    Keras's decoupled weight decay (Adam with it is AdamW)."""
    decay = weight_decay or None
    if name == "sgd":
        return keras.optimizers.SGD(lr, momentum=momentum, weight_decay=decay)
    return keras.optimizers.Adam(lr, epsilon=epsilon, weight_decay=decay)


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
    """Hooks of one method (see the module docstring for when each runs)."""

    true_class_maps = False  # CAM snapshots show the true class's map, not the predicted

    def __init__(self, command):
        self.command = command

    def check(self, args):
        """Method-specific checks of the resolved args (raise ConfigError)."""
        check_guide_flags(args)
        parse_brightness(args.brightness)
        if args.crop_from is not None and args.crop_from < args.image_size:
            raise ConfigError(f"--crop-from: expected at least --image-size "
                              f"({args.image_size}), got {args.crop_from}")

    def optimizer(self, args):
        return make_optimizer(args.optimizer, args.lr, args.momentum, args.weight_decay,
                              args.epsilon)

    def augmentation(self, args):
        """A callable on batches of training images (or the inputs dict), or None."""
        augment = build_augmentation(None if args.flip == "none" else args.flip,
                                     args.rotation, args.translation, args.zoom,
                                     parse_brightness(args.brightness), args.channel_shift,
                                     seed=args.seed, crop=None if args.crop_from is None
                                     else (args.crop_from, args.image_size))
        masks = set(required_annotations(args)) & {"ignore", "attend"}
        return MasksFollow(augment) if augment is not None and masks else augment

    def build_backbone(self, args):
        return build_backbone(args.backbone, (args.image_size, args.image_size, 3),
                              args.weights)

    def build_network(self, args, num_classes, multi_label):
        """The deployable classifier: ``--network`` (behind ``--network-input``)
        or backbone -> GAP -> Dense."""
        if getattr(args, "network", None):
            network = load_network(args.network, (args.image_size, args.image_size, 3),
                                   num_classes)
            return with_input_range(network, args.network_input)
        return build_cam_classifier(self.build_backbone(args), num_classes, multi_label)

    def build_model(self, args, network, data):
        """The model ``fit`` trains: a GuidedClassifier around ``network`` with
        the guides of the flags (``common.training.guide_flags``)."""
        return GuidedClassifier(network, guides=guides_from_flags(args, data))

    def metrics(self, args, multi_label):
        return ["binary_accuracy"] if multi_label else ["accuracy"]

    def adjust_train(self, args, train, classes):
        """The training table to use (e.g. with a class oversampled)."""
        return train

    def extra_inputs(self, args, table, data):
        """Dict name -> per-row arrays the network takes besides the image, or None."""
        return None

    def guide_inputs(self, args, table, data):
        """Dict name -> per-row arrays only guides read, in training and
        validation (``boxes`` for the box energy guide), or None."""
        inputs = {}
        for name in required_annotations(args):
            inputs[name] = normalised_boxes(table) if name == "boxes" else mask_paths(table,
                                                                                     name)
        return inputs or None

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

    def export(self, model):
        """The deployable model written as model.keras."""
        return model.network

    def extra_metrics(self, args, network, data, probabilities, shard=None):
        """The method's own entries of metrics.json. ``shard``
        (``common.training.sharded_predict.Shard``): the test rows this
        process scores, with ``gather`` / ``sum`` to combine the workers'
        parts; every worker calls it under a multi-worker strategy, so the
        work is split. An override without ``shard`` runs on the chief
        only, over the whole test table."""
        return {}

    def failure(self, args, history):
        """Why a run that trained to the end still failed (e.g. a dead
        model), or None. The harness writes everything, then a FAILED note,
        and exits with status 1."""
        return None
