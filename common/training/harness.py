"""The training harness behind every ``python -m <method>.train``.

``run`` loads and validates the data before anything trains, builds and
compiles the model inside ``strategy.scope()``, trains with the run-folder
callbacks (CSV history, TensorBoard, CAM snapshots, epoch backups), then
hands over to ``common.training.final`` for ``model.keras``, the exports,
``metrics.json``, ``predictions.csv`` and ``confusion_matrix.png``. A run
that cannot go on (a non-finite loss, an interrupt, a full disk, a lost
worker) ends in ``stop``: one line, the backup kept. A method plugs in
through ``Trainer`` hooks.
"""

import os
import sys
from types import SimpleNamespace

import keras
import numpy as np
import tensorflow as tf

from common import data as datalib
from common.data.demo import demo_source
from common.console import fail
from common.errors import named_by, quoted
from common.guidance import GuideCheck
from common.io import write_json, write_yaml
from common.keras_compat import in_multi_worker_mode
from common.training import cli, runfolder, workers
from common.training import final, model_setup
from common.training.best_epoch import BestEpoch
from common.training.interrupt_latch import InterruptLatch
from common.training.cam_snapshots import CamSnapshots
from common.training.chance_guard import ChanceGuard
from common.training.disk import is_disk_full
from common.training.distribute import get_strategy
from common.training.guide_flags import check_annotations, guide_inputs
from common.training.epoch_backup import EpochBackup, read_backup_epoch, restore_backup
from common.training.nonfinite_guard import NonFiniteError, NonFiniteGuard
from common.training.run_readme import write_run_readme

SNAPSHOT_IMAGES = 8
USER_ERRORS = (datalib.DataError, cli.ConfigError, runfolder.RunFolderError,
               FileNotFoundError, ValueError)


def load_data(args, trainer, saved_classes=None):
    """Tables, class names and flags of the run, all validated."""
    with named_by("--data", "data"):
        source = demo_source(args.data or trainer.command.demo_data)
        table, classes = datalib.read_data(source)
    if len(classes) < 2 and not datalib.is_multi_label(table):
        raise datalib.DataError(f"'{source}' has {len(classes)} class ({classes}); a "
                                "classifier needs at least two")
    if saved_classes is not None:
        if sorted(set(classes) | set(saved_classes)) != saved_classes:
            raise datalib.DataError(f"--resume: classes of '{source}' {quoted(classes, 120)} "
                                    "differ from the run's classes.json "
                                    f"{quoted(saved_classes, 120)}")
        classes = saved_classes
    table = datalib.validate(table, classes, args.skip_bad_images, what="data")
    check_annotations(trainer.annotations(args), table, source)
    train, val, test = datalib.split_table(table, seed=args.seed)
    if args.val_data:
        with named_by("--val-data", "data"):
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


def train(command, trainer, args, command_line=""):
    """Trains one resolved run; user errors in the data or the hooks' checks
    end it with one line on stderr and exit status 2 before anything is
    written. Returns the run folder."""
    try:
        strategy = get_strategy(args.strategy)  # before any other TensorFlow op
        trainer.check(args)
        saved_classes = None
        if args.resume:
            saved_classes = runfolder.read_classes(
                runfolder.run_file(args.output, "classes.json"))
        keras.utils.set_random_seed(args.seed)
        note = model_setup.reproducible(args)
        if args.mixed_precision:
            keras.mixed_precision.set_global_policy("mixed_float16")
        data = load_data(args, trainer, saved_classes)
        if args.batch_size % workers.task()[2]:
            raise cli.ConfigError(f"--batch-size {args.batch_size} (global) is not divisible "
                                  f"by the {workers.task()[2]} workers")
        augment = trainer.augmentation(args)
        model = model_setup.compiled_model(trainer, args, data, strategy)
        args = model_setup.kept_by(args, trainer, model, data.multi_label)
    except USER_ERRORS as error:
        fail(command.prog, error)
    if note and workers.is_chief():
        print(f"{command.method}: note: {note}", file=sys.stderr)
    folder = workers.worker_folder(args.output)  # the chief's run folder, or a temporary one
    try:
        return fit_and_evaluate(command, trainer, args, data, model, augment, strategy, folder,
                                command_line)
    finally:
        workers.remove_worker_folder(folder, args.output)


def steps_per_worker(args, table, multi_worker):
    """Steps of one epoch over a worker's share (None: Keras counts them)."""
    if not multi_worker:
        return None
    workers_count = workers.task()[2]
    rows = -(-len(table) // workers_count)  # shards are padded to equal sizes
    return -(-rows // (args.batch_size // workers_count))


def fit_and_evaluate(command, trainer, args, data, model, augment, strategy, folder,
                     command_line=""):
    chief = folder == args.output
    multi_worker = in_multi_worker_mode(strategy)
    try:
        run = runfolder.prepare(folder, args.resume and chief)
    except runfolder.RunFolderError as error:  # e.g. another run took the folder meanwhile
        fail(command.prog, error)
    trainable = sum(int(np.prod(w.shape)) for w in model.network.trainable_weights)
    if chief:
        print(f"{command.method}: {len(data.train)} train / {len(data.val)} val / "
              f"{len(data.test)} {data.evaluated_on} images, {len(data.classes)} classes, "
              f"{trainable:,} trainable parameters ({trainable / 1e6:.2f} M); run folder {run}")
    if not (args.resume and chief):
        write_yaml(os.path.join(run, "config.yaml"), {**args, "method": command.method})
        write_json(os.path.join(run, "classes.json"), data.classes)
    if chief:
        write_run_readme(run, command.method, command_line)

    def dataset(table, training=False, distributed=False, cache=None, guided=False):
        extra = trainer.extra_inputs(args, table, data)
        if guided:  # fit's data: with the inputs only guides read (boxes)
            extra = {**(extra or {}), **guide_inputs(trainer.annotations(args), table)}
        options = dict(training=training, augment=augment, multi_label=data.multi_label,
                       seed=args.seed, extra_inputs=extra or None, cache=cache)
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
    backup = EpochBackup(os.path.join(run, "backup"))
    best = BestEpoch(run, args.keep_metric) if args.keep == "best" else None
    guard = [ChanceGuard(len(data.classes), datalib.encode_labels(data.val, data.classes),
                         loss_is_cross_entropy=not model.term_names,
                         prefix=f"{command.method}: warning")] if (
        chief and not data.multi_label) else []
    guide_callbacks = model.guide_callbacks()  # a schedule, a check of the run
    checks = [callback for callback in guide_callbacks if isinstance(callback, GuideCheck)]
    latch = InterruptLatch()
    callbacks = [
        NonFiniteGuard(),  # first: acts before anything of a broken epoch is written
        latch,  # Ctrl-C that Keras swallowed still stops the run
        backup.end_marker(),
        keras.callbacks.CSVLogger(history_csv, append=True),
        keras.callbacks.TensorBoard(os.path.join(run, "tensorboard")),
        CamSnapshots(images, os.path.join(run, "cams"), labels, data.classes,
                     true_class_maps=trainer.true_class_maps,
                     feature_layer=trainer.feature_layer(args),
                     summary_dir=os.path.join(run, "tensorboard", "images")),
        *trainer.callbacks(args, run, data),
        *guide_callbacks,
        *guard,
        *([best] if best else []),
        # Last, so an epoch is marked done only after the other callbacks ran.
        backup,
    ]
    try:
        history = _fit(command, args, model, dataset, data, callbacks, done, chief, run,
                       multi_worker, trainer, backup)
        kept = (best.restore() if best else None) or {"epoch": args.epochs, "metric": None}
        return final.evaluate_and_save(command, trainer, args, data, model, run, chief,
                                       multi_worker, dataset, history, kept, checks)
    except OSError as error:
        if not is_disk_full(error):
            raise
        stop(command, args, run if chief else None, f"error: {error}", 1)
    finally:
        latch.on_train_end()  # its SIGINT handler goes, however fit ended
        if chief:
            try:
                write_run_readme(run, command.method, command_line)
            except OSError:
                pass  # a full disk: the run's own error line says so


def _fit(command, args, model, dataset, data, callbacks, done, chief, run, multi_worker,
         trainer, backup):
    """``model.fit``; a non-finite loss, an interrupt or a lost worker ends
    the run through ``stop``."""
    from common.commandline.progress import native_logs_off
    try:
        # A CPU run with op determinism and augmentation layers logs a
        # harmless native "E0000 ... use_unbounded_threadpool" line.
        with native_logs_off(args.verbose):
            return model.fit(dataset(data.train, training=True, distributed=True, guided=True),
                             validation_data=dataset(data.val, distributed=True, guided=True),
                             steps_per_epoch=steps_per_worker(args, data.train, multi_worker),
                             epochs=args.epochs, initial_epoch=done, callbacks=callbacks,
                             verbose=args.verbose if chief else 0, shuffle=False,
                             class_weight=trainer.class_weight(args, data))
    except NonFiniteError as error:
        stop(command, args, run if chief else None, f"error: {error}", 1)
    except KeyboardInterrupt:
        if chief:
            backup.save_interrupted()
        stop(command, args, None, "interrupted", 130)
    except tf.errors.UnavailableError as error:  # a peer worker stopped
        stop(command, args, None, "error: another worker stopped during training "
             f"({str(error).splitlines()[0][:160]}); start every worker again with the same "
             "command plus --resume", 1)


def stop(command, args, failed_run, reason, status):
    """Ends a run that cannot go on: one line naming what the backup keeps
    and how to resume, ``RUN/FAILED`` where ``failed_run`` is given (when
    the disk allows), exit ``status``."""
    finished = read_backup_epoch(os.path.join(args.output, "backup"))
    resume = runfolder.resume_command(command, args)
    kept = (f"the backup of epoch {finished} is kept: resume with `{resume}`" if finished
            else f"no epoch had finished: start it again with `{resume}`")
    if failed_run:
        try:
            runfolder.mark_failed(failed_run, f"{reason}\n{kept}")
        except OSError:
            pass  # the disk may be full: the line below still says it
    where = f" in epoch {finished + 1}" if reason == "interrupted" else ""
    print(f"{command.method}: {reason}{where}; {kept}", file=sys.stderr)
    sys.exit(status)
