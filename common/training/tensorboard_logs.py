"""What a run adds to TensorBoard beyond Keras's per-epoch scalars: its
hyperparameters (the HParams dashboard) and its test metrics, in
``RUN/tensorboard/test``. (The CAM snapshots go to ``.../images``.)"""

import math

import tensorflow as tf
from tensorboard.plugins.hparams import api as hp


def _flat_numbers(metrics, prefix=""):
    """name -> float of every finite number in a nested metrics dict."""
    found = {}
    for name, value in metrics.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            found.update(_flat_numbers(value, f"{key}/"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) \
                and math.isfinite(value):
            found[key] = float(value)
    return found


def _hparam_value(value):
    if isinstance(value, (bool, int, float, str)):
        return value
    return "none" if value is None else str(value)


def write_run_summary(logdir, config, metrics, step):
    """The run's resolved config as hparams and its test metrics as scalars
    (``test/<name>``) at ``step`` (the last epoch)."""
    numbers = _flat_numbers(metrics)
    with tf.summary.create_file_writer(logdir).as_default():
        hp.hparams({name: _hparam_value(value) for name, value in sorted(config.items())})
        for name, value in numbers.items():
            tf.summary.scalar(f"test/{name}", value, step=step)
    return numbers
