"""The model of a run: built and compiled in the strategy's scope, its
--keep-metric checked, and TensorFlow made reproducible on CPU."""

import warnings

import keras
import tensorflow as tf

from common.cam_sources import output_kind
from common.training import cli


def reproducible(args):
    """Same seed, same machine, same result on CPU: turns TensorFlow's op
    determinism on (its CPU kernels otherwise sum in thread order, and a run
    at the edge of learning can go either way from such a difference).
    XLA has no such switch: returns the note that says so, else None."""
    if tf.config.list_physical_devices("GPU"):
        return None
    if args.jit_compile:
        return ("--jit-compile: XLA's CPU kernels are not bit-reproducible; runs with the "
                "same seed can differ slightly")
    tf.config.experimental.enable_op_determinism()
    return None


def kept_by(args, trainer, model, multi_label):
    """The settings with the --keep-metric this run logs (said before
    training when it logs no such metric): multi-label runs log
    binary_accuracy where others log accuracy."""
    if multi_label and args.keep_metric == "val_accuracy":
        args = args.replace(keep_metric="val_binary_accuracy")
    names = ["loss", *[m if isinstance(m, str) else m.name
                       for m in trainer.metrics(args, multi_label)],
             *model.term_names, *model.statistic_names]
    logged = [name for n in names for name in (n, f"val_{n}")]
    if args.keep == "best" and args.keep_metric not in logged:
        raise cli.ConfigError(f"--keep-metric: '{args.keep_metric}' is not logged by this run; "
                              f"expected one of {logged}")
    return args


def make_optimizer(args):
    """``--optimizer``: ``sgd`` (with momentum) or ``adam``; a non-zero
    ``--weight-decay`` is Keras's decoupled weight decay (Adam with it is
    AdamW)."""
    decay = args.weight_decay or None
    if args.optimizer == "sgd":
        return keras.optimizers.SGD(args.lr, momentum=args.momentum, weight_decay=decay)
    return keras.optimizers.Adam(args.lr, epsilon=args.epsilon, weight_decay=decay)


def compiled_loss(network, multi_label):
    """Cross-entropy on what the network returns: probabilities, or logits
    (``from_logits``), read from its last layers."""
    try:
        logits = output_kind(network) == "logits"
    except (ValueError, AttributeError):  # a custom last layer: probabilities, as before
        logits = False
    if logits and multi_label:
        raise cli.ConfigError(f"network '{network.name}' returns logits; for multi-label "
                              "data end it in a sigmoid")
    if multi_label:
        return keras.losses.BinaryCrossentropy()
    return keras.losses.SparseCategoricalCrossentropy(from_logits=logits)


def compiled_model(trainer, args, data, strategy):
    """The method's model, built and compiled inside ``strategy.scope()``."""
    with strategy.scope():
        network = trainer.build_network(args, len(data.classes), data.multi_label)
        model = trainer.build_model(args, network, data)
        loss = compiled_loss(network, data.multi_label)
        with warnings.catch_warnings():  # Keras would only warn, then train without XLA
            warnings.simplefilter("ignore", UserWarning)
            model.compile(optimizer=make_optimizer(args), loss=loss,
                          metrics=trainer.metrics(args, data.multi_label),
                          jit_compile=bool(args.jit_compile))
    if args.jit_compile and not model.jit_compile:
        raise cli.ConfigError("--jit-compile: Keras will not compile this model with XLA "
                              "(TensorFlow's op determinism is on, e.g. TF_DETERMINISTIC_OPS, "
                              "or a layer does not support XLA); drop one of the two")
    return model
