"""``python -m distraction.train``: Grad-CAM-guided occlusion training.

With --data the paper's settings: ResNet50, 224 px, batch 16, Adam (lr 5e-5,
beta1 0.9, beta2 0.999, epsilon 7e-7), horizontal flip, rotation +-40,
channel shift +-30, brightness 0.5-1.5, p 0.25, threshold 0.85, 0-occlusion.
--p 0 trains the fine-tuned baseline (FT-ResNet50) with everything else equal.
metrics.json holds the clean test metrics and, under "erased", the same on
the test set with random erasing (seeded: both arms see the same images).
"""

import keras
import pandas as pd
import tensorflow as tf

from common import cli
from common.data import decode_image, encode_labels
from common.evaluate import classification_metrics
from common.harness import Trainer, main
from distraction.model import DistractionModel
from distraction.occlusion import MODES
from distraction.robustness import erase

FLAGS = {
    "p": (float, "probability that a batch is occluded (0: the fine-tuned baseline)", None),
    "threshold": (float, "occlude pixels whose normalised Grad-CAM exceeds this", None),
    "occlusion": (str, "value of occluded pixels", MODES),
    "oversample": (str, "repeat the training images of this class until it is as "
                        "frequent as the largest class", None),
    **cli.HNC_FLAGS,
}
METHOD_DEFAULTS = {"p": 0.25, "threshold": 0.85, "occlusion": "zero", "oversample": None,
                   **cli.HNC_DEFAULTS}


class DistractionTrainer(Trainer):
    method = "distraction"
    description = __doc__
    demo_data = "demo:digits"
    demo_defaults = {"epochs": 5, "batch_size": 32, "image_size": 32, "backbone": "tiny",
                     "lr": 1e-3, "rotation": 10.0, **METHOD_DEFAULTS}
    paper_defaults = {"epochs": 30, "batch_size": 16, "image_size": 224,
                      "backbone": "resnet50", "lr": 5e-5, "flip": "horizontal",
                      "rotation": 40.0, "channel_shift": 30.0, "brightness": "0.5,1.5",
                      **METHOD_DEFAULTS}
    extra_flags = FLAGS

    def check(self, args):
        if not 0.0 <= args.p <= 1.0:
            raise cli.ConfigError(f"--p: expected a probability in [0, 1], got {args.p}")
        if not 0.0 <= args.threshold < 1.0:
            raise cli.ConfigError(f"--threshold: expected a value in [0, 1), got "
                                  f"{args.threshold}")

    def optimizer(self, args):
        return keras.optimizers.Adam(args.lr, beta_1=0.9, beta_2=0.999, epsilon=7e-7)

    def adjust_train(self, args, train, classes):
        if not args.oversample:
            return train
        if args.oversample not in classes:
            raise cli.ConfigError(f"--oversample: '{args.oversample}' is not one of the "
                                  f"classes {classes}")
        first = train["labels"].map(lambda labels: labels[0])
        rows = train[first == args.oversample]
        missing = int(first.value_counts().max()) - len(rows)
        if missing <= 0:
            return train
        extra = rows.sample(missing, replace=True, random_state=args.seed)
        return pd.concat([train, extra], ignore_index=True)

    def build_model(self, args, network, data):
        return DistractionModel(network, p=args.p, threshold=args.threshold,
                                mode=args.occlusion, seed=args.seed,
                                hnc_weight=args.hnc_weight or 0.0, hnc_k=args.hnc_k,
                                hnc_variant=args.hnc_variant or "mse")

    def extra_metrics(self, args, network, data, probabilities):
        size = (args.image_size, args.image_size)
        images = tf.stack([decode_image(p, size) for p in data.test["path"]]).numpy()
        erased = erase(images, seed=args.seed)
        y_true = encode_labels(data.test, data.classes, data.multi_label)
        probs = network.predict(erased, batch_size=args.batch_size, verbose=0)
        return {"erased": classification_metrics(y_true, probs, data.classes,
                                                 data.multi_label),
                "occlusion": {"p": args.p, "threshold": args.threshold,
                              "mode": args.occlusion}}


if __name__ == "__main__":
    main(DistractionTrainer())
