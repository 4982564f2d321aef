"""The distraction hooks of the training harness (``python -m distraction.train``)."""

import numpy as np
import pandas as pd

from common.data.pipeline import make_dataset
from common.data.tables import encode_labels
from common.training.cli import ConfigError
from common.training.metrics import classification_metrics
from common.commandline.progress import batches
from common.training.sharded_predict import Shard
from common.training.trainer import Trainer
from distraction.robustness import erase


class DistractionTrainer(Trainer):
    """The occlusion guide comes from its flag group (``--p``, ``--threshold``,
    ``--occlusion-mode``); the method adds oversampling and the erased test set."""

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

    def extra_metrics(self, args, network, data, probabilities, shard=None):
        return {"erased": erased_metrics(network, data.test, data.classes, args.image_size,
                                         args.batch_size, data.multi_label, args.seed,
                                         args.verbose, shard),
                "occlusion": {"p": args.p, "threshold": args.threshold,
                              "mode": args.occlusion_mode}}


def erased_metrics(network, table, classes, image_size, batch_size=32, multi_label=False,
                   seed=0, verbose=0, shard=None):
    """The test metrics on randomly erased test images (``erase``, seeded by
    the image's row in the table): the table streams through the input
    pipeline batch by batch and only the probabilities (N x C) are kept, so
    memory does not grow with the test set, and the result depends neither
    on ``batch_size`` nor on how ``shard`` (a ``Shard``: this worker's rows)
    splits the rows between workers."""
    shard = shard or Shard(len(table))
    rows = shard.rows
    probabilities, start = [np.zeros((0, len(classes)), np.float32)], 0
    for images, _ in (batches(make_dataset(table.iloc[rows], classes, image_size, batch_size,
                                           multi_label=multi_label, cache=False),
                              len(rows), batch_size, "erased test set", verbose)
                      if len(rows) else ()):  # a worker's share can be empty
        erased = erase(images.numpy(), seed=seed, rows=rows[start:start + len(images)])
        probabilities.append(np.asarray(network(erased, training=False), np.float32))
        start += len(images)
    probabilities = shard.gather(np.concatenate(probabilities))
    y_true = encode_labels(table, classes, multi_label)
    return classification_metrics(y_true, probabilities, classes, multi_label)
