"""After training: the deployable model and its exports, the test-set
metrics, predictions and confusion matrix of a run folder."""

import contextlib
import os
import sys

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from common import data as datalib
from common.cam_sources import as_probabilities
from common.commandline.plots import save_confusion_matrix
from common.commandline.progress import PredictProgress, native_logs_off
from common.io import atomic_write, write_json
from common.training import run_exports, runfolder, workers
from common.training.chance_guard import at_chance, chance_accuracy
from common.training.metrics import classification_metrics
from common.training.sharded_predict import Shard
from common.training.tensorboard_logs import write_run_summary


def evaluate_and_save(command, trainer, args, data, model, run, chief, multi_worker,
                      dataset, history, kept, checks=()):
    """The deployable model, its exports, the test metrics and pictures, of
    the kept epoch (``kept``: BestEpoch's record, or the last epoch).
    ``checks``: the guides' callbacks (``Guide.callbacks``), whose
    ``run_metrics`` join metrics.json and whose ``failure`` fails the run."""
    if chief:  # a kill from here on leaves a run that says so until a resume completes it
        runfolder.mark_failed(run, "the run stopped while its model, exports and test metrics "
                                   "were written; resume with "
                                   f"`{runfolder.resume_command(command, args)}`")
    network = model.network
    test_set = dataset(data.test, cache=False)  # streamed: memory does not grow with it
    if multi_worker:
        network = local_copy(network)
    runfolder.save_model(network, os.path.join(run, "model.keras"))
    if chief:
        write_exports(command, args, network, run, test_set)
    shard = (Shard(len(data.test), *workers.share(), model.distribute_strategy)
             if multi_worker else Shard(len(data.test)))
    probabilities = test_probabilities(command, args, data, network, dataset, test_set, shard,
                                       chief)
    probabilities = as_probabilities(probabilities, network)  # a logits network's too
    y_true = datalib.encode_labels(data.test, data.classes, data.multi_label)
    metrics = classification_metrics(y_true, probabilities, data.classes, data.multi_label)
    metrics["evaluated_on"] = data.evaluated_on
    metrics["kept_epoch"] = kept["epoch"]
    metrics["kept_by"] = f"best {kept['metric']}" if kept["metric"] else "last epoch"
    metrics.update(method_metrics(command, trainer, args, network, data, probabilities,
                                  shard, chief))
    for check in checks:
        metrics.update(check.run_metrics())
    write_json(os.path.join(run, "metrics.json"), metrics)
    write_run_summary(os.path.join(run, "tensorboard", "test"),
                      {**args, "method": command.method}, metrics, args.epochs)
    write_predictions(os.path.join(run, "predictions.csv"), data.test, probabilities,
                      data.classes)
    if not data.multi_label:
        save_confusion_matrix(os.path.join(run, "confusion_matrix.png"), y_true,
                              probabilities.argmax(-1), data.classes)
    failure = next(
        filter(None, (check.failure() for check in checks)), None) \
        or chance_failure(command, args, data, run, kept["epoch"])
    if failure:
        runfolder.mark_failed(run, failure)
        print(f"{command.method}: error: {failure}; {data.evaluated_on} accuracy "
              f"{metrics['accuracy']:.4f}; wrote {run} (see its FAILED note)", file=sys.stderr)
        sys.exit(1)
    if chief:
        os.remove(os.path.join(run, "FAILED"))
        print(f"{command.method}: {data.evaluated_on} accuracy {metrics['accuracy']:.4f}; "
              f"wrote {run}", file=sys.stderr)
    return run


def test_probabilities(command, args, data, network, dataset, test_set, shard, chief):
    """The network's probabilities on the test table (N x C, in its order).
    Under a multi-worker strategy each worker predicts its ``shard`` of the
    rows and the shares are all-gathered (``sharded_predict``), so the work
    is split and every worker gets what one process would have predicted."""
    sharded = shard.strategy is not None
    table = data.test.iloc[shard.rows] if sharded else data.test
    progress = PredictProgress(len(table), args.batch_size, f"{data.evaluated_on} set",
                               args.verbose if chief else 0)
    local = (network.predict(dataset(table, cache=False) if sharded else test_set,
                             verbose=0, callbacks=[progress]) if len(table)
             else np.zeros((0, len(data.classes)), np.float32))
    with peer_stopped(command, "the test metrics are not"):
        return shard.gather(np.asarray(local, np.float32)) if sharded else local


def method_metrics(command, trainer, args, network, data, probabilities, shard, chief):
    """The method's own entries of metrics.json: ``extra_metrics`` runs on
    every worker, each on its ``shard`` of the rows (the sums and gathers
    are collectives, so all must call it); ``probabilities`` are already
    the whole table's."""
    quiet = args if chief else args.replace(verbose=0)
    with peer_stopped(command, "the method's test metrics are not"):
        return trainer.extra_metrics(quiet, network, data, probabilities, shard=shard)


@contextlib.contextmanager
def peer_stopped(command, lost):
    """A peer worker that stops during a collective of the final evaluation
    ends this one with one line and status 1 (model.keras is saved)."""
    try:
        yield
    except tf.errors.UnavailableError as error:
        print(f"{command.method}: error: another worker stopped during the final "
              f"evaluation ({str(error).splitlines()[0][:160]}); model.keras is saved, "
              f"{lost}", file=sys.stderr)
        sys.exit(1)


def chance_failure(command, args, data, run, epoch):
    """Why the kept model counts as stuck at chance (its validation accuracy
    in history.csv is no better than always answering the most frequent
    validation class), or None; only a warning with ``--at-chance warn``."""
    history = os.path.join(run, "history.csv")
    if data.multi_label or not os.path.isfile(history):
        return None
    rows = pd.read_csv(history)
    rows = rows[rows["epoch"] == epoch - 1]
    if rows.empty or "val_accuracy" not in rows:
        return None
    accuracy = float(rows["val_accuracy"].iloc[-1])
    labels = datalib.encode_labels(data.val, data.classes)
    if not at_chance(accuracy, labels):
        return None
    top, margin = chance_accuracy(labels)
    reason = (f"the kept model (epoch {epoch}) is at chance: validation accuracy "
              f"{accuracy:.3f}, always answering the most frequent class gives {top:.3f} "
              f"(+ {margin:.3f} by luck)")
    if args.at_chance == "warn":
        print(f"{command.method}: warning: {reason}", file=sys.stderr)
        return None
    return reason


def write_exports(command, args, network, run, test_dataset):
    """RUN/saved_model (and --export's formats), checked on a test batch;
    a mismatch fails the run loudly."""
    # Taking a batch eagerly logs a harmless E-level line of TensorFlow's own
    # ("NodeDef mentions attribute use_unbounded_threadpool ..."): native logs
    # stay off here as at import (common.commandline.quiet).
    try:
        with native_logs_off(args.verbose):
            inputs = next(iter(test_dataset))[0]
            inputs = ({k: v.numpy()[:16] for k, v in inputs.items()}
                      if isinstance(inputs, dict) else inputs.numpy()[:16])
            run_exports.write_exports(network, run, run_exports.parse_formats(args.export),
                                      inputs, verbose=args.verbose)
    except run_exports.ExportError as error:
        runfolder.mark_failed(run, str(error))
        print(f"{command.method}: error: {error}", file=sys.stderr)
        sys.exit(1)


def write_predictions(path, table, probabilities, class_names):
    """predictions.csv: each evaluated image with its classes' probabilities."""
    frame = pd.DataFrame(probabilities, columns=[f"p_{name}" for name in class_names])
    frame.insert(0, "predicted", [class_names[i] for i in probabilities.argmax(-1)])
    frame.insert(0, "label", [";".join(labels) for labels in table["labels"]])
    frame.insert(0, "path", table["path"].to_numpy())
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False,
                                                          float_format="%.9g"))


def local_copy(network):
    """The network rebuilt outside any strategy, with the trained weights:
    every worker can then predict its share of the test set on its own."""
    copy = keras.models.clone_model(network)
    copy.set_weights(network.get_weights())
    return copy
