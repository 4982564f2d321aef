"""The one place a trainer gets its tf.distribute strategy from."""

import os

import tensorflow as tf

from common.training.cli import STRATEGIES


def get_strategy(name="auto"):
    """``auto``: MirroredStrategy when more than one GPU is visible, else the
    default strategy; ``default``: the default strategy; ``mirrored``: all
    local GPUs (the CPU if none); ``multi_worker``:
    MultiWorkerMirroredStrategy configured by TF_CONFIG."""
    if name not in STRATEGIES:
        raise ValueError(f"--strategy: expected one of {STRATEGIES}, got {name!r}")
    if name == "auto":
        many = len(tf.config.list_logical_devices("GPU")) > 1
        return tf.distribute.MirroredStrategy() if many else tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--strategy multi_worker needs the TF_CONFIG environment "
                             "variable (cluster and task of this worker)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()
