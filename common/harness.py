"""The training harness every ``python -m <method>.train`` goes through.

A method subclasses ``Trainer`` (defaults, flags, model, callbacks, extra
metrics) and calls ``main(trainer)``. The harness parses and resolves the
config, loads and validates the data before anything trains, builds and
compiles the model inside ``strategy.scope()``, trains with the run-folder
callbacks (CSV history, TensorBoard, CAM snapshots, BackupAndRestore), then
writes ``model.keras``, ``metrics.json`` and ``confusion_matrix.png``.
"""

import json
import os
import sys
from types import SimpleNamespace

import keras
import numpy as np
import pandas as pd

from common import cli, data as datalib, runfolder
from common.augment import build_augmentation
from common.backbones import BACKBONES, build_backbone
from common.callbacks import CamSnapshots, EpochBackup, restore_backup
from common.classifier import GuidedClassifier, build_cam_classifier
from common.demo import demo_csv
from common.distribute import get_strategy
from common.evaluate import classification_metrics
from common.plots import save_confusion_matrix

SNAPSHOT_IMAGES = 8
USER_ERRORS = (datalib.DataError, cli.ConfigError, runfolder.RunFolderError,
               FileNotFoundError, ValueError)


class Trainer:
    """Hooks of one method; the defaults train the plain CAM classifier."""

    method = "common"
    description = "Plain CAM classifier: backbone -> global average pooling -> Dense."
    demo_data = "demo:digits"
    demo_defaults = {"epochs": 5, "batch_size": 32, "image_size": 32, "backbone": "tiny",
                     "lr": 1e-3, **cli.HNC_DEFAULTS}
    paper_defaults = {"epochs": 50, "batch_size": 32, "image_size": 224,
                      "backbone": "resnet50", "lr": 1e-3, "flip": "horizontal",
                      **cli.HNC_DEFAULTS}
    extra_flags = cli.HNC_FLAGS
    cams_of_true_class = False

    def check(self, args):
        """Method-specific checks of the resolved args (raise ConfigError)."""

    def optimizer(self, args):
        return keras.optimizers.Adam(args.lr)

    def augmentation(self, args):
        brightness = None
        if str(args.brightness).lower() != "none":
            try:
                brightness = tuple(float(v) for v in str(args.brightness).split(","))
                assert len(brightness) == 2 and 0 <= brightness[0] <= brightness[1]
            except (ValueError, AssertionError):
                raise cli.ConfigError(f"--brightness: expected 'low,high' with 0 <= low <= "
                                      f"high, got {args.brightness!r}") from None
        return build_augmentation(None if args.flip == "none" else args.flip, args.rotation,
                                  args.translation, args.zoom, brightness, args.channel_shift,
                                  seed=args.seed)

    def build_backbone(self, args):
        weights = None if str(args.weights).lower() == "none" else args.weights
        return build_backbone(args.backbone, (args.image_size, args.image_size, 3), weights)

    def build_network(self, args, num_classes, multi_label):
        return build_cam_classifier(self.build_backbone(args), num_classes, multi_label)

    def build_model(self, args, network, data):
        return GuidedClassifier(network, hnc_weight=args.hnc_weight or 0.0, hnc_k=args.hnc_k,
                                hnc_variant=args.hnc_variant or "mse")

    def metrics(self, args, multi_label):
        return ["binary_accuracy"] if multi_label else ["accuracy"]

    def adjust_train(self, args, train, classes):
        """The training table to use (e.g. with a class oversampled)."""
        return train

    def extra_inputs(self, args, table, data):
        """Dict name -> per-row arrays added to the image inputs, or None."""
        return None

    def callbacks(self, args, run, data):
        return []

    def class_weight(self, args, data):
        """Dict class index -> loss weight for fit(), or None."""
        return None

    def cam_layer(self, args):
        """Layer whose Grad-CAM the per-epoch snapshots show (None: the last
        4-D layer)."""
        return None

    def export(self, model):
        """The deployable model written as model.keras."""
        return model.network

    def extra_metrics(self, args, network, data, probabilities):
        return {}


def _data_source(args, trainer):
    source = args.data or trainer.demo_data
    if str(source).startswith("demo:"):
        return demo_csv(source.split(":", 1)[1], seed=0)
    return source


def load_data(args, trainer, saved_classes=None):
    """Tables, class names and flags of the run, all validated."""
    source = _data_source(args, trainer)
    table, classes = datalib.read_table(source)
    if saved_classes is not None:
        if sorted(set(classes) | set(saved_classes)) != saved_classes:
            raise datalib.DataError(f"--resume: classes of '{source}' {classes} differ from "
                                    f"the run's classes.json {saved_classes}")
        classes = saved_classes
    table = datalib.validate(table, classes, args.skip_bad_images, what="data")
    train, val, test = datalib.split_table(table, seed=args.seed)
    if args.val_data:
        val, _ = datalib.read_table(args.val_data)
        val = datalib.validate(val, classes, args.skip_bad_images, what="validation")
    datalib.check_classes_present(train, classes)
    train = trainer.adjust_train(args, train, classes)
    if len(val) == 0:
        raise datalib.DataError(f"'{source}' yields no validation images")
    check = {"train": train, "val": val, "test": test}
    evaluated_on = "test" if len(check["test"]) else "val"
    return SimpleNamespace(source=source, folder=os.path.dirname(os.path.abspath(source)),
                           classes=classes, multi_label=datalib.is_multi_label(table),
                           train=check["train"], val=check["val"],
                           test=check[evaluated_on], evaluated_on=evaluated_on)


def _parse(trainer, argv):
    prog = f"python -m {trainer.method}.train"
    parser = cli.build_parser(prog, trainer.description, trainer.demo_defaults,
                              trainer.paper_defaults, trainer.extra_flags)
    first = parser.parse_args(argv)
    saved = None
    if first.resume:
        if not first.output:
            raise cli.ConfigError("--resume needs --output, the run folder to continue")
        runfolder.prepare(first.output, resume=True)
        saved = runfolder.read_yaml(os.path.join(first.output, "config.yaml"))
        saved = {k: v for k, v in saved.items() if k not in ("resume", "method")}
    args = cli.resolve(parser, argv, trainer.demo_defaults, trainer.paper_defaults, saved)
    args.output = args.output or runfolder.default_output(trainer.method)
    if args.backbone not in BACKBONES:
        raise cli.ConfigError(f"--backbone: unknown backbone '{args.backbone}'; expected one "
                              f"of {sorted(BACKBONES)}")
    return args


def _snapshot_batch(args, data, trainer):
    rows = data.val.iloc[:SNAPSHOT_IMAGES]
    dataset = datalib.make_dataset(rows, data.classes, args.image_size, SNAPSHOT_IMAGES,
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
    runfolder.atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False,
                                                          float_format="%.9g"))


def main(trainer, argv=None):
    """Runs one training from the command line; returns the run folder."""
    prog = f"python -m {trainer.method}.train"
    try:
        args = _parse(trainer, argv)
        trainer.check(args)
        classes_path = os.path.join(args.output, "classes.json")
        saved_classes = None
        if args.resume:
            with open(classes_path) as handle:
                saved_classes = json.load(handle)
        elif os.path.isdir(args.output) and os.listdir(args.output):
            runfolder.prepare(args.output, resume=False)  # raises: never overwrite
        data = load_data(args, trainer, saved_classes)
        augment = trainer.augmentation(args)
        keras.utils.set_random_seed(args.seed)
        if args.mixed_precision:
            keras.mixed_precision.set_global_policy("mixed_float16")
        strategy = get_strategy(args.strategy)
        with strategy.scope():
            network = trainer.build_network(args, len(data.classes), data.multi_label)
            model = trainer.build_model(args, network, data)
            loss = "binary_crossentropy" if data.multi_label else \
                "sparse_categorical_crossentropy"
            model.compile(optimizer=trainer.optimizer(args), loss=loss,
                          metrics=trainer.metrics(args, data.multi_label),
                          jit_compile=bool(args.jit_compile))
    except USER_ERRORS as error:
        cli.fail(prog, error)
    return fit_and_evaluate(trainer, args, data, model, augment)


def fit_and_evaluate(trainer, args, data, model, augment):
    run = runfolder.prepare(args.output, args.resume)
    trainable = sum(int(np.prod(w.shape)) for w in model.network.trainable_weights)
    print(f"{trainer.method}: {len(data.train)} train / {len(data.val)} val / "
          f"{len(data.test)} {data.evaluated_on} images, {len(data.classes)} classes, "
          f"{trainable:,} trainable parameters ({trainable / 1e6:.2f} M); run folder {run}")
    if not args.resume:
        runfolder.write_yaml(os.path.join(run, "config.yaml"),
                             {**vars(args), "method": trainer.method})
        runfolder.write_json(os.path.join(run, "classes.json"), data.classes)

    def dataset(table, training=False):
        return datalib.make_dataset(table, data.classes, args.image_size, args.batch_size,
                                    training=training, augment=augment,
                                    multi_label=data.multi_label, seed=args.seed,
                                    extra_inputs=trainer.extra_inputs(args, table, data))

    history = os.path.join(run, "history.csv")
    backup = os.path.join(run, "backup")
    done = restore_backup(model, backup) if args.resume else 0
    runfolder.trim_history(history, done)
    images, labels = _snapshot_batch(args, data, trainer)
    callbacks = [
        keras.callbacks.CSVLogger(history, append=True),
        keras.callbacks.TensorBoard(os.path.join(run, "tensorboard")),
        CamSnapshots(images, os.path.join(run, "cams"), labels, data.classes,
                     use_labels=trainer.cams_of_true_class, layer=trainer.cam_layer(args)),
        *trainer.callbacks(args, run, data),
        # Last, so an epoch is marked done only after the other callbacks ran.
        EpochBackup(backup),
    ]
    model.fit(dataset(data.train, training=True), validation_data=dataset(data.val),
              epochs=args.epochs, initial_epoch=done, callbacks=callbacks, verbose=args.verbose,
              shuffle=False, class_weight=trainer.class_weight(args, data))

    network = trainer.export(model)
    runfolder.save_model(network, os.path.join(run, "model.keras"))
    test = dataset(data.test)
    probabilities = network.predict(test, verbose=0)
    y_true = datalib.encode_labels(data.test, data.classes, data.multi_label)
    metrics = classification_metrics(y_true, probabilities, data.classes, data.multi_label)
    metrics["evaluated_on"] = data.evaluated_on
    metrics.update(trainer.extra_metrics(args, network, data, probabilities))
    runfolder.write_json(os.path.join(run, "metrics.json"), metrics)
    write_predictions(os.path.join(run, "predictions.csv"), data.test, probabilities,
                      data.classes)
    if not data.multi_label:
        save_confusion_matrix(os.path.join(run, "confusion_matrix.png"), y_true,
                              probabilities.argmax(-1), data.classes)
    print(f"{trainer.method}: {data.evaluated_on} accuracy {metrics['accuracy']:.4f}; "
          f"wrote {run}", file=sys.stderr)
    return run
