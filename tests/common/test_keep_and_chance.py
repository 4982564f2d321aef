"""--keep best keeps the epoch with the best validation metric; a run stuck
at chance warns while training and ends FAILED with exit status 1."""

import json
import math

import keras
import numpy as np
import pandas as pd
import pytest

from common.train import COMMAND
from common.training.best_epoch import BestEpoch, read_best
from common.training.chance_guard import ChanceGuard, at_chance, chance_accuracy
from common.training.entry import main


def test_chance_accuracy_is_the_majority_share_plus_two_binomial_deviations():
    labels = np.array([0] * 50 + [1] * 30 + [2] * 20)
    top, margin = chance_accuracy(labels)
    assert top == 0.5 and margin == pytest.approx(2 * math.sqrt(0.5 * 0.5 / 100))
    assert at_chance(0.59, labels) and not at_chance(0.61, labels)


def test_chance_guard_warns_once_after_patience_epochs_at_chance(capsys):
    guard = ChanceGuard(10, np.arange(100) % 10, patience=3, prefix="m: warning")
    stuck = {"loss": math.log(10) * 1.01, "val_accuracy": 0.5}  # the loss says chance
    learning = {"loss": 1.0, "val_accuracy": 0.5}
    for epoch, logs in enumerate([stuck, stuck, learning, stuck, stuck, stuck, stuck]):
        guard.on_epoch_end(epoch, logs)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("m: warning: epochs 4-6 look like chance")
    not_ce = ChanceGuard(10, np.arange(100) % 10, patience=1, loss_is_cross_entropy=False)
    not_ce.on_epoch_end(0, stuck)  # a loss with other terms: only the accuracy counts
    not_ce.on_epoch_end(1, {"loss": 5.0, "val_accuracy": 0.12})  # 0.1 + 0.06: chance
    assert capsys.readouterr().err.count("look like chance") == 1


def test_best_epoch_restores_the_weights_of_the_best_validation_epoch(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype("float32"), rng.integers(0, 2, 64)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
    snapshots = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: snapshots.append(model.get_weights()))
    best = BestEpoch(str(tmp_path), "val_loss")
    history = model.fit(x, y, validation_data=(x[:16], 1 - y[:16]), epochs=6, verbose=0,
                        callbacks=[record, best])  # flipped labels: val_loss is not monotone
    losses = history.history["val_loss"]
    kept = best.restore()
    assert kept == {"epoch": int(np.argmin(losses)) + 1, "metric": "val_loss",
                    "value": pytest.approx(min(losses))}
    for restored, saved in zip(model.get_weights(), snapshots[kept["epoch"] - 1]):
        np.testing.assert_array_equal(restored, saved)
    assert read_best(str(tmp_path))["epoch"] == kept["epoch"]


def test_keep_best_is_the_default_and_its_epoch_is_recorded(tmp_path, small_demo,
                                                            demo_settings):
    run = tmp_path / "run"
    main(COMMAND, ["--data", small_demo("digits", 12), "--config", demo_settings(COMMAND),
                   "--epochs", "4", "--image-size", "16", "--batch-size", "16", "--lr", "0.01",
                   "--verbose", "0", "--output", str(run)])
    history = pd.read_csv(run / "history.csv")
    best = int(history["val_accuracy"].to_numpy().argmax()) + 1  # the first of equals
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["kept_epoch"] == best and metrics["kept_by"] == "best val_accuracy"
    assert json.loads((run / "best.json").read_text())["epoch"] == best
    assert "best.json" in (run / "README.txt").read_text()


def test_a_run_stuck_at_chance_fails_in_one_line(tmp_path, capsys, small_demo, demo_settings):
    """A learning rate of 1e-12 (0 is refused) keeps the model at chance."""
    run = tmp_path / "stuck"
    with pytest.raises(SystemExit) as stop:
        main(COMMAND, ["--data", small_demo("digits", 12), "--config", demo_settings(COMMAND),
                       "--epochs", "3", "--image-size", "16", "--batch-size", "16",
                       "--lr", "1e-12", "--verbose", "0", "--at-chance", "fail",
                       "--output", str(run)])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 1
    warnings = [line for line in err if "look like chance" in line]
    assert len(warnings) == 1 and warnings[0].startswith("common: warning: epochs 1-3")
    assert err[-1].startswith("common: error: the kept model (epoch ") and "at chance" in err[-1]
    assert "at chance" in (run / "FAILED").read_text()
    assert (run / "model.keras").is_file()  # kept for inspection, marked FAILED


def test_an_unknown_keep_metric_is_refused_before_training(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(COMMAND, ["--keep-metric", "val_f1", "--output", str(tmp_path / "run"),
                       "--verbose", "0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1
    assert "--keep-metric: 'val_f1' is not logged by this run" in err[0]
    assert "'val_accuracy'" in err[0] and not (tmp_path / "run").exists()
