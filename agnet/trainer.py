"""The AG-Net hooks of the training harness (``python -m agnet.train``)."""

import keras
import numpy as np
from sklearn.metrics import average_precision_score

from agnet.augment import OnTheFlyRegions, RegionAugmentation
from agnet.cache import compute_regions
from agnet.model import build_agnet
from common.classifier import GuidedClassifier
from common.data.tables import encode_labels
from common.training.cli import ConfigError
from common.training.trainer import Trainer


class AgnetTrainer(Trainer):
    def check(self, args):
        super().check(args)
        unsupported = [name for name in ("brightness", "channel_shift") if args[name]
                       not in (None, "none", 0, 0.0)] + (
            ["flip"] if args.flip not in ("none", "horizontal") else [])
        if unsupported:
            raise ConfigError(f"--{unsupported[0].replace('_', '-')}: AG-Net's augmentation "
                              "(agnet.augment) moves the regions with the image and offers "
                              "rotation, zoom, translation and a horizontal flip only")
        if args.crop_from is not None:
            raise ConfigError("--crop-from: AG-Net's regions move with its own geometric "
                              "augmentation (agnet.augment); a crop is not supported")

    def augmentation(self, args):
        settings = {"flip": args.flip == "horizontal", "seed": args.seed,
                    "rotation": args.rotation, "translation": args.translation,
                    "scale": (1.0 - args.zoom, 1.0 + args.zoom)}
        if args.regions == "on-the-fly":
            return OnTheFlyRegions(args.num_primary, args.seed, **settings)
        return RegionAugmentation(**settings)

    def build_network(self, args, num_classes, multi_label):
        network = build_agnet(self.build_backbone(args), num_classes, args.num_primary,
                              self_attention=not args.no_self_attention,
                              inter_attention=not args.no_inter_attention,
                              pooling=args.pooling, inter_normalize=args.inter_attention,
                              regions=not args.no_regions, se_blocks=not args.no_se_blocks)
        network.summary(print_fn=lambda line, **kw: None)
        return network

    def feature_layer(self, args):
        return f"backbone_{args.backbone}" if args.no_self_attention else "self_attention"

    def build_model(self, args, network, data):
        return GuidedClassifier(network, feature_layer=self.feature_layer(args))

    def metrics(self, args, multi_label):
        return ["accuracy", keras.metrics.SparseTopKCategoricalAccuracy(5, name="top5")]

    def extra_inputs(self, args, table, data):
        regions = compute_regions(list(table["path"]), args.image_size, args.num_primary,
                                  args.seed, args.region_cache, verbose=args.verbose)
        return {"regions": regions}

    def callbacks(self, args, run, data):
        step = args.lr_step
        return [keras.callbacks.LearningRateScheduler(
            lambda epoch: args.lr * 0.1 ** (epoch // step))]

    def extra_metrics(self, args, network, data, probabilities, shard):
        labels = encode_labels(data.test, data.classes)
        top5 = np.argsort(-probabilities, axis=1)[:, :5]
        hot = np.eye(len(data.classes))[labels]
        present = hot.sum(axis=0) > 0
        return {"top1": float(np.mean(probabilities.argmax(-1) == labels)),
                "top5": float(np.mean((top5 == labels[:, None]).any(axis=1))),
                "mAP": float(average_precision_score(hot[:, present],
                                                     probabilities[:, present],
                                                     average="macro"))}
