"""The distraction hooks of the training harness (``python -m distraction.train``)."""

import pandas as pd
import tensorflow as tf

from common.data.pipeline import decode_image
from common.data.tables import encode_labels
from common.training.cli import ConfigError
from common.training.metrics import classification_metrics
from common.training.progress import PredictProgress
from common.training.trainer import Trainer, hnc_options
from distraction.model import DistractionModel
from distraction.robustness import erase


class DistractionTrainer(Trainer):
    def check(self, args):
        super().check(args)
        if args.threshold >= 1.0:
            raise ConfigError(f"--threshold: expected a value in [0, 1), got {args.threshold}")

    def adjust_train(self, args, train, classes):
        if not args.oversample:
            return train
        if args.oversample not in classes:
            raise ConfigError(f"--oversample: '{args.oversample}' is not one of the "
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
                                mode=args.occlusion, seed=args.seed, **hnc_options(args))

    def extra_metrics(self, args, network, data, probabilities):
        size = (args.image_size, args.image_size)
        images = tf.stack([decode_image(p, size) for p in data.test["path"]]).numpy()
        erased = erase(images, seed=args.seed)
        y_true = encode_labels(data.test, data.classes, data.multi_label)
        probs = network.predict(erased, batch_size=args.batch_size, verbose=0,
                                callbacks=[PredictProgress(len(erased), args.batch_size,
                                                           "erased test set", args.verbose)])
        return {"erased": classification_metrics(y_true, probs, data.classes,
                                                 data.multi_label),
                "occlusion": {"p": args.p, "threshold": args.threshold,
                              "mode": args.occlusion}}
