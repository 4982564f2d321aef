"""The training harness behind every ``python -m <method>.train``.

``run`` loads and validates the data before anything trains, builds and
compiles the model inside ``strategy.scope()``, trains with the run-folder
callbacks (CSV history, TensorBoard, CAM snapshots, epoch backups), then
writes ``model.keras``, ``metrics.json``, ``predictions.csv`` and
``confusion_matrix.png``. A method plugs in through ``Trainer`` hooks.
"""

import contextlib
import json
import os
import sys
import warnings
from types import SimpleNamespace

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from common import data as datalib
from common.backbones import BACKBONES
from common.data.demo import demo_csv
from common.io import atomic_write, write_json, write_yaml
from common.keras_compat import in_multi_worker_mode
from common.training import cli, quiet, run_exports, runfolder, workers
from common.training.cam_snapshots import CamSnapshots
from common.training.distribute import get_strategy
from common.training.epoch_backup import EpochBackup, read_backup_epoch, restore_backup
from common.training.metrics import classification_metrics
from common.training.nonfinite_guard import NonFiniteError, NonFiniteGuard
from common.training.plots import save_confusion_matrix
from common.training.tensorboard_logs import write_run_summary

SNAPSHOT_IMAGES = 8
USER_ERRORS = (datalib.DataError, cli.ConfigError, runfolder.RunFolderError,
               FileNotFoundError, ValueError)


def _data_source(args, trainer):
    source = args.data or trainer.command.demo_data
    if str(source).startswith("demo:"):
        return demo_csv(source.split(":", 1)[1], seed=0)
    return source


def load_data(args, trainer, saved_classes=None):
    """Tables, class names and flags of the run, all validated."""
    source = _data_source(args, trainer)
    table, classes = datalib.read_data(source)
    if saved_classes is not None:
        if sorted(set(classes) | set(saved_classes)) != saved_classes:
            raise datalib.DataError(f"--resume: classes of '{source}' {classes} differ from "
                                    f"the run's classes.json {saved_classes}")
        classes = saved_classes
    table = datalib.validate(table, classes, args.skip_bad_images, what="data")
    train, val, test = datalib.split_table(table, seed=args.seed)
    if args.val_data:
        val, _ = datalib.read_data(args.val_data)
        val = datalib.validate(val, classes, args.skip_bad_images, what="validation")
    datalib.check_classes_present(train, classes)
    train = trainer.adjust_train(args, train, classes)
    if len(val) == 0:
        raise datalib.DataError(f"'{source}' yields no validation images")
    splits = {"train": train, "val": val, "test": test}
    evaluated_on = "test" if len(splits["test"]) else "val"
    return SimpleNamespace(source=source, folder=os.path.dirname(os.path.abspath(source)),
                           classes=classes, multi_label=datalib.is_multi_label(table),
                           train=splits["train"], val=splits["val"],
                           test=splits[evaluated_on], evaluated_on=evaluated_on)


def snapshot_rows(table, order, count):
    """Row positions of fixed snapshot images: one per class in ``order``
    first, then more, class after class, up to ``count``."""
    first = table["labels"].map(lambda labels: labels[0]).to_numpy()
    queues = {name: list(np.flatnonzero(first == name)) for name in order}
    chosen = []
    while len(chosen) < count and any(queues.values()):
        for name in order:
            if queues[name] and len(chosen) < count:
                chosen.append(queues[name].pop(0))
    return chosen


def _write_exports(command, args, network, run, test_dataset):
    """RUN/saved_model (and --export's formats), checked on a test batch;
    a mismatch fails the run loudly."""
    # Taking a batch eagerly logs a harmless E-level line of TensorFlow's own
    # ("NodeDef mentions attribute use_unbounded_threadpool ..."): native logs
    # stay off here as at import (common.training.quiet).
    silenced = (contextlib.nullcontext() if quiet.wanted(args.verbose)
                else quiet.native_stderr_silenced())
    try:
        with silenced:
            inputs = next(iter(test_dataset))[0]
            inputs = ({k: v.numpy()[:16] for k, v in inputs.items()}
                      if isinstance(inputs, dict) else inputs.numpy()[:16])
            run_exports.write_exports(network, run, run_exports.parse_formats(args.export),
                                      inputs)
    except run_exports.ExportError as error:
        runfolder.mark_failed(run, str(error))
        print(f"{command.method}: error: {error}", file=sys.stderr)
        sys.exit(1)


def _snapshot_batch(args, data, trainer):
    order = trainer.snapshot_classes(args, data)
    count = min(max(SNAPSHOT_IMAGES, len(order)), 12)
    rows = data.val.iloc[snapshot_rows(data.val, order, count)].reset_index(drop=True)
    dataset = datalib.make_dataset(rows, data.classes, args.image_size, len(rows),
                                   multi_label=data.multi_label,
                                   extra_inputs=trainer.extra_inputs(args, rows, data))
    inputs, labels = next(iter(dataset))
    labels = np.asarray(labels)
    return inputs, (labels.argmax(-1) if labels.ndim == 2 else labels)


def write_predictions(path, table, probabilities, class_names):
    """predictions.csv: each evaluated image with its classes' probabilities."""
    frame = pd.DataFrame(probabilities, columns=[f"p_{name}" for name in class_names])
    frame.insert(0, "predicted", [class_names[i] for i in probabilities.argmax(-1)])
    frame.insert(0, "label", [";".join(labels) for labels in table["labels"]])
    frame.insert(0, "path", table["path"].to_numpy())
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False,
                                                          float_format="%.9g"))


def train(command, trainer, args):
    """Trains one resolved run; user errors in the data or the hooks' checks
    end it with one line on stderr and exit status 2 before anything is
    written. Returns the run folder."""
    try:
        strategy = get_strategy(args.strategy)  # before any other TensorFlow op
        if args.backbone not in BACKBONES:
            raise cli.ConfigError(f"--backbone: unknown backbone '{args.backbone}'; expected "
                                  f"one of {sorted(BACKBONES)}")
        trainer.check(args)
        saved_classes = None
        if args.resume:
            with open(os.path.join(args.output, "classes.json")) as handle:
                saved_classes = json.load(handle)
        keras.utils.set_random_seed(args.seed)
        if args.mixed_precision:
            keras.mixed_precision.set_global_policy("mixed_float16")
        data = load_data(args, trainer, saved_classes)
        if args.batch_size % workers.task()[2]:
            raise cli.ConfigError(f"--batch-size {args.batch_size} (global) is not divisible "
                                  f"by the {workers.task()[2]} workers")
        augment = trainer.augmentation(args)
        model = compiled_model(trainer, args, data, strategy)
    except USER_ERRORS as error:
        cli.fail(command.prog, error)
    folder = workers.worker_folder(args.output)  # the chief's run folder, or a temporary one
    try:
        return fit_and_evaluate(command, trainer, args, data, model, augment, strategy, folder)
    finally:
        workers.remove_worker_folder(folder, args.output)


def compiled_model(trainer, args, data, strategy):
    """The method's model, built and compiled inside ``strategy.scope()``."""
    with strategy.scope():
        network = trainer.build_network(args, len(data.classes), data.multi_label)
        model = trainer.build_model(args, network, data)
        loss = "binary_crossentropy" if data.multi_label else "sparse_categorical_crossentropy"
        with warnings.catch_warnings():  # Keras would only warn, then train without XLA
            warnings.simplefilter("ignore", UserWarning)
            model.compile(optimizer=trainer.optimizer(args), loss=loss,
                          metrics=trainer.metrics(args, data.multi_label),
                          jit_compile=bool(args.jit_compile))
    if args.jit_compile and not model.jit_compile:
        raise cli.ConfigError("--jit-compile: Keras will not compile this model with XLA "
                              "(TensorFlow's op determinism is on, e.g. TF_DETERMINISTIC_OPS, "
                              "or a layer does not support XLA); drop one of the two")
    return model


def steps_per_worker(args, table, multi_worker):
    """Steps of one epoch over a worker's share (None: Keras counts them)."""
    if not multi_worker:
        return None
    workers_count = workers.task()[2]
    rows = -(-len(table) // workers_count)  # shards are padded to equal sizes
    return -(-rows // (args.batch_size // workers_count))


def local_copy(network):
    """The network rebuilt outside any strategy, with the trained weights:
    every worker can then predict the whole test set on its own."""
    copy = keras.models.clone_model(network)
    copy.set_weights(network.get_weights())
    return copy


def fit_and_evaluate(command, trainer, args, data, model, augment, strategy, folder):
    chief = folder == args.output
    multi_worker = in_multi_worker_mode(strategy)
    run = runfolder.prepare(folder, args.resume and chief)
    trainable = sum(int(np.prod(w.shape)) for w in model.network.trainable_weights)
    if chief:
        print(f"{command.method}: {len(data.train)} train / {len(data.val)} val / "
              f"{len(data.test)} {data.evaluated_on} images, {len(data.classes)} classes, "
              f"{trainable:,} trainable parameters ({trainable / 1e6:.2f} M); run folder {run}")
    if not (args.resume and chief):
        write_yaml(os.path.join(run, "config.yaml"), {**vars(args), "method": command.method})
        write_json(os.path.join(run, "classes.json"), data.classes)

    def dataset(table, training=False, distributed=False):
        options = dict(training=training, augment=augment, multi_label=data.multi_label,
                       seed=args.seed, extra_inputs=trainer.extra_inputs(args, table, data))
        if not (distributed and multi_worker):
            return datalib.make_dataset(table, data.classes, args.image_size,
                                        args.batch_size, **options)

        def shard(context):  # each worker reads, decodes and augments its share
            part = datalib.make_dataset(
                table, data.classes, args.image_size,
                context.get_per_replica_batch_size(args.batch_size),
                shard=(context.num_input_pipelines, context.input_pipeline_id), **options)
            # One iterator for the whole run (see steps_per_epoch): the order
            # then does not depend on how often Keras creates iterators.
            return part.repeat() if training else part
        return strategy.distribute_datasets_from_function(shard)

    history_csv = os.path.join(run, "history.csv")
    with strategy.scope():  # the optimizer's variables are built here on resume
        done = restore_backup(model, os.path.join(args.output, "backup")) if args.resume else 0
    runfolder.trim_history(history_csv, done)
    images, labels = _snapshot_batch(args, data, trainer)
    if args.resume and chief and os.path.isfile(os.path.join(run, "FAILED")):
        os.remove(os.path.join(run, "FAILED"))  # the run goes on from its last good epoch
    callbacks = [
        NonFiniteGuard(),  # first: acts before anything of a broken epoch is written
        keras.callbacks.CSVLogger(history_csv, append=True),
        keras.callbacks.TensorBoard(os.path.join(run, "tensorboard")),
        CamSnapshots(images, os.path.join(run, "cams"), labels, data.classes,
                     true_class_maps=trainer.true_class_maps,
                     feature_layer=trainer.feature_layer(args),
                     summary_dir=os.path.join(run, "tensorboard", "images")),
        *trainer.callbacks(args, run, data),
        # Last, so an epoch is marked done only after the other callbacks ran.
        EpochBackup(os.path.join(run, "backup")),
    ]
    try:
        history = model.fit(dataset(data.train, training=True, distributed=True),
                            validation_data=dataset(data.val, distributed=True),
                            steps_per_epoch=steps_per_worker(args, data.train, multi_worker),
                            epochs=args.epochs, initial_epoch=done, callbacks=callbacks,
                            verbose=args.verbose if chief else 0, shuffle=False,
                            class_weight=trainer.class_weight(args, data))
    except NonFiniteError as error:
        finished = read_backup_epoch(os.path.join(args.output, "backup"))
        kept = (f"the backup of epoch {finished} is kept: --resume continues from it"
                if finished else "no epoch finished")
        if chief:
            runfolder.mark_failed(run, f"{error}\n{kept}")
        print(f"{command.method}: error: {error}; {kept}", file=sys.stderr)
        sys.exit(1)
    except tf.errors.UnavailableError as error:  # a peer worker stopped
        finished = read_backup_epoch(os.path.join(args.output, "backup"))
        print(f"{command.method}: error: another worker stopped during training "
              f"({str(error).splitlines()[0][:160]}); {finished} epoch(s) finished; start every "
              "worker again with the same command plus --resume", file=sys.stderr)
        sys.exit(1)

    network = trainer.export(model)
    if multi_worker:
        network = local_copy(network)
    runfolder.save_model(network, os.path.join(run, "model.keras"))
    if chief:
        _write_exports(command, args, network, run, dataset(data.test))
    probabilities = network.predict(dataset(data.test), verbose=0)
    y_true = datalib.encode_labels(data.test, data.classes, data.multi_label)
    metrics = classification_metrics(y_true, probabilities, data.classes, data.multi_label)
    metrics["evaluated_on"] = data.evaluated_on
    metrics.update(trainer.extra_metrics(args, network, data, probabilities))
    write_json(os.path.join(run, "metrics.json"), metrics)
    write_run_summary(os.path.join(run, "tensorboard", "test"),
                      {**vars(args), "method": command.method}, metrics, args.epochs)
    write_predictions(os.path.join(run, "predictions.csv"), data.test, probabilities,
                      data.classes)
    if not data.multi_label:
        save_confusion_matrix(os.path.join(run, "confusion_matrix.png"), y_true,
                              probabilities.argmax(-1), data.classes)
    failure = trainer.failure(args, history)
    if failure:
        runfolder.mark_failed(run, failure)
        print(f"{command.method}: error: {failure}; {data.evaluated_on} accuracy "
              f"{metrics['accuracy']:.4f}; wrote {run} (see its FAILED note)", file=sys.stderr)
        sys.exit(1)
    if chief:
        print(f"{command.method}: {data.evaluated_on} accuracy {metrics['accuracy']:.4f}; "
              f"wrote {run}", file=sys.stderr)
    return run
