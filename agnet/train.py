"""``python -m agnet.train``: the Attend and Guide Network.

With --data, the paper's settings: ResNet50 (any --backbone of the registry),
224 px, batch 8, 50 epochs, SGD momentum 0.99, lr 1e-5 divided by 10 every
25 epochs, categorical cross-entropy, 8 primary regions (36 boxes), and the
paper's geometric augmentation (rotation +-15 degrees, scale 0.85-1.15,
translation +-15 %) applied to the image and its cached regions together.
Without --data: demo:fashion (Fashion-MNIST, when the Debian package
dataset-fashion-mnist is installed; else demo:digits, whose upscaled 8x8
digits have too few SIFT keypoints and mostly get the grid regions), a tiny
backbone at 64 px. metrics.json adds top-1, top-5 and mAP.
"""

import os

import keras
import numpy as np
import tensorflow as tf
from sklearn.metrics import average_precision_score

from agnet.augment import RegionAugmentation
from agnet.cache import compute_regions
from agnet.model import POOLINGS, build_agnet
from agnet.regions import semantic_regions
from common import cli
from common.classifier import GuidedClassifier
from common.demo import FASHION_DIR
from common.harness import Trainer, main

FLAGS = {
    "num_primary": (int, "primary regions k (R = k + k(k-1)/2 boxes)", None),
    "regions": (str, "cached: SIFT once, boxes moved with the augmentation; on-the-fly: "
                     "SIFT + GMM again on every augmented image (the paper's generator)",
                ("cached", "on-the-fly")),
    "region_cache": (str, "folder of the region cache (default ~/.cache/attention-guided/"
                          "agnet-regions or $AGNET_REGION_CACHE)", None),
    "no_self_attention": ("switch", "ablation: drop the self-attention layer", None),
    "no_inter_attention": ("switch", "ablation: drop the inter-region attention", None),
    "pooling": (str, "final pooling (ablation: gap or gmp alone)", POOLINGS),
    "optimizer": (str, "optimizer", ("sgd", "adam")),
    "momentum": (float, "SGD momentum", None),
    "lr_step": (int, "divide the learning rate by 10 every this many epochs", None),
}
METHOD_DEFAULTS = {"num_primary": 8, "regions": "cached", "region_cache": None,
                   "no_self_attention": False, "no_inter_attention": False,
                   "pooling": "gap_gmp", "momentum": 0.99, "lr_step": 25}


class OnTheFlyRegions(RegionAugmentation):
    """Augments the image, then recomputes its regions with SIFT + GMM."""

    def __init__(self, num_primary, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.num_primary, self.region_seed = num_primary, seed

    def _regions(self, images):
        return np.stack([semantic_regions(image, self.num_primary, self.region_seed)
                         for image in images]).astype(np.float32)

    def __call__(self, inputs, training=True):
        inputs = super().__call__(inputs, training)
        regions = tf.numpy_function(self._regions, [inputs["image"]], tf.float32)
        regions.set_shape(inputs["regions"].shape)
        return {**inputs, "regions": regions}


class AgnetTrainer(Trainer):
    method = "agnet"
    description = __doc__
    demo_data = "demo:fashion" if os.path.isdir(FASHION_DIR) else "demo:digits"
    demo_defaults = {"epochs": 8, "batch_size": 32, "image_size": 64, "backbone": "tiny",
                     "optimizer": "adam", "lr": 1e-3, **METHOD_DEFAULTS}
    paper_defaults = {"epochs": 50, "batch_size": 8, "image_size": 224,
                      "backbone": "resnet50", "optimizer": "sgd", "lr": 1e-5,
                      **METHOD_DEFAULTS}
    extra_flags = FLAGS

    def check(self, args):
        if args.num_primary < 1:
            raise cli.ConfigError(f"--num-primary: expected at least 1, got {args.num_primary}")

    def optimizer(self, args):
        if args.optimizer == "adam":
            return keras.optimizers.Adam(args.lr)
        return keras.optimizers.SGD(args.lr, momentum=args.momentum)

    def augmentation(self, args):
        settings = {"flip": args.flip == "horizontal", "seed": args.seed}
        if args.regions == "on-the-fly":
            return OnTheFlyRegions(args.num_primary, args.seed, **settings)
        return RegionAugmentation(**settings)

    def build_network(self, args, num_classes, multi_label):
        network = build_agnet(self.build_backbone(args), num_classes, args.num_primary,
                              self_attention=not args.no_self_attention,
                              inter_attention=not args.no_inter_attention,
                              pooling=args.pooling)
        network.summary(print_fn=lambda line, **kw: None)
        return network

    def cam_layer(self, args):
        return f"backbone_{args.backbone}" if args.no_self_attention else "self_attention"

    def build_model(self, args, network, data):
        return GuidedClassifier(network, feature_layer=self.cam_layer(args))

    def metrics(self, args, multi_label):
        return ["accuracy", keras.metrics.SparseTopKCategoricalAccuracy(5, name="top5")]

    def extra_inputs(self, args, table, data):
        regions = compute_regions(list(table["path"]), args.image_size, args.num_primary,
                                  args.seed, args.region_cache)
        return {"regions": regions}

    def callbacks(self, args, run, data):
        step = args.lr_step
        return [keras.callbacks.LearningRateScheduler(
            lambda epoch: args.lr * 0.1 ** (epoch // step))]

    def extra_metrics(self, args, network, data, probabilities):
        from common.data import encode_labels
        labels = encode_labels(data.test, data.classes)
        top5 = np.argsort(-probabilities, axis=1)[:, :5]
        hot = np.eye(len(data.classes))[labels]
        present = hot.sum(axis=0) > 0
        return {"top1": float(np.mean(probabilities.argmax(-1) == labels)),
                "top5": float(np.mean((top5 == labels[:, None]).any(axis=1))),
                "mAP": float(average_precision_score(hot[:, present],
                                                     probabilities[:, present],
                                                     average="macro"))}


if __name__ == "__main__":
    main(AgnetTrainer())
