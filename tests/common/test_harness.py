"""The harness end to end: real CLI runs on the digits demo, the run folder,
reload in a fresh process, errors, resume after SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml

from common.train import COMMAND
from common.training.entry import main
from tests.fresh_process import python_process

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAST = ["--image-size", "16", "--batch-size", "64", "--verbose", "0", "--at-chance", "warn"]


def _cli(args):
    return python_process("-m", "common.train", *args)


def test_baseline_run_writes_the_whole_run_folder(tmp_path, reloaded_predictions_match):
    config = tmp_path / "config.yaml"
    config.write_text("epochs: 5\nlr: 0.01\nhnc-weight: 0.05\nhnc_k: 3\n")
    run = tmp_path / "run"
    done = _cli(["--config", str(config), "--epochs", "2", "--output", str(run), *FAST])
    assert done.returncode == 0, done.stderr[-3000:]
    for name in ("config.yaml", "classes.json", "history.csv", "model.keras", "metrics.json",
                 "confusion_matrix.png", "predictions.csv", "cams/epoch_001.png",
                 "cams/epoch_002.png", "backup/training_metadata.json",
                 "backup/epoch_002.weights.h5"):
        assert (run / name).is_file(), name
    assert any((run / "tensorboard" / "train").iterdir())
    listed = (run / "README.txt").read_text()  # every file the run holds, explained
    assert all(f"{name} " in listed or f"{name}\n" in listed for name in
               os.listdir(run) if name != "README.txt"), (listed, os.listdir(run))
    resolved = yaml.safe_load((run / "config.yaml").read_text())
    assert resolved["epochs"] == 2 and resolved["lr"] == 0.01  # flag > file > default
    assert resolved["backbone"] == "tiny" and resolved["method"] == "common"
    history = pd.read_csv(run / "history.csv")
    assert history["epoch"].tolist() == [0, 1]
    assert {"loss", "accuracy", "hnc_loss", "val_loss", "val_hnc_loss"} <= set(history)
    assert (history["hnc_loss"] > 0).all()
    assert json.loads((run / "classes.json").read_text()) == [str(i) for i in range(10)]
    metrics = json.loads((run / "metrics.json").read_text())
    predictions = pd.read_csv(run / "predictions.csv")
    accuracy = (predictions["label"].astype(str) == predictions["predicted"].astype(str)).mean()
    assert metrics["accuracy"] == pytest.approx(accuracy)
    assert {"f1_macro", "precision_weighted", "recall_macro", "true_positive_rate"} <= set(
        metrics)
    tags = _event_tags(run / "tensorboard")
    assert tags["images"] == {"cam_snapshots"} and tags["images_steps"] == {1, 2}
    assert "_hparams_/session_start_info" in tags["test"]
    assert tags["test_values"]["test/accuracy"] == pytest.approx(metrics["accuracy"], abs=1e-6)
    # A fresh process that imports only the toolkit reloads and predicts the same.
    reloaded_predictions_match(run, image_size=16)


def _event_tags(folder):
    """What TensorBoard would read: summary tags of RUN/tensorboard/{images,test}."""
    import tensorflow as tf
    from tensorboard.compat.proto.event_pb2 import Event
    found = {"images": set(), "images_steps": set(), "test": set(), "test_values": {}}
    for sub in ("images", "test"):
        for record in tf.data.TFRecordDataset([str(p) for p in (folder / sub).iterdir()]):
            event = Event.FromString(record.numpy())
            for value in event.summary.value:
                found[sub].add(value.tag)
                if sub == "images":
                    found["images_steps"].add(event.step)
                elif value.tag.startswith("test/"):
                    found["test_values"][value.tag] = float(tf.make_ndarray(value.tensor))
    return found


def _error_line(capsys, argv):
    with pytest.raises(SystemExit) as stop:
        main(COMMAND, argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1, err
    return err[0]


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    assert "nowhere' is neither a CSV" in _error_line(
        capsys, ["--data", str(tmp_path / "nowhere"), "--output", str(tmp_path / "r1")])
    assert "unknown backbone 'resnet5'" in _error_line(
        capsys, ["--backbone", "resnet5", "--output", str(tmp_path / "r2")])
    assert "invalid choice" in _error_line(capsys, ["--strategy", "magic"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochz: 3\n")
    assert "unknown key(s) ['epochz']" in _error_line(capsys, ["--config", str(bad)])
    folder = tmp_path / "images"
    for name in ("a", "b"):
        (folder / name).mkdir(parents=True)
        for i in range(4):
            (folder / name / f"{i}.png").write_bytes(b"broken")
    line = _error_line(capsys, ["--data", str(folder), "--output", str(tmp_path / "r3")])
    assert "bad" in line and "0.png: corrupt or not an image" in line
    assert not (tmp_path / "r1").exists() and not (tmp_path / "r3").exists()


def test_existing_run_folder_is_never_overwritten(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.keras").write_text("precious")
    line = _error_line(capsys, ["--output", str(run), *FAST])
    assert "already exists" in line and "--resume" in line
    assert (run / "model.keras").read_text() == "precious"
    assert "not a run folder" in _error_line(capsys, ["--resume", "--output", str(tmp_path)])


def test_resume_after_sigkill_finishes_each_epoch_once(tmp_path):
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": ROOT}
    args = [sys.executable, "-m", "common.train", "--epochs", "6", "--output", str(run),
            "--image-size", "24", "--batch-size", "16", "--verbose", "0", "--at-chance", "warn"]
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    history = run / "history.csv"
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        if history.is_file() and len(history.read_text().splitlines()) >= 3:  # 2 epochs
            break
        time.sleep(0.05)
    assert process.poll() is None, "training ended before it could be interrupted"
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = len(pd.read_csv(history))
    assert 2 <= done_before < 6 and not (run / "model.keras").exists()
    resumed = _cli(["--resume", "--output", str(run)])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert pd.read_csv(history)["epoch"].tolist() == [0, 1, 2, 3, 4, 5]
    assert (run / "model.keras").is_file() and (run / "metrics.json").is_file()
    assert len(list((run / "cams").glob("epoch_*.png"))) == 6


def test_jit_compile_that_keras_would_drop_is_refused(tmp_path, capsys):
    """With op determinism on (as in this test session) Keras silently
    trains without XLA; the harness says so and stops before training."""
    line = _error_line(capsys, ["--jit-compile", "--output", str(tmp_path / "run"), *FAST])
    assert "--jit-compile: Keras will not compile this model with XLA" in line
    assert not (tmp_path / "run" / "history.csv").exists()


def test_a_non_finite_loss_stops_the_run_and_keeps_the_last_good_backup(
        tmp_path, capsys, small_demo, demo_settings):
    run = tmp_path / "run"
    base = ["--data", small_demo("digits", 12), "--config", demo_settings(COMMAND),
            "--image-size", "16", "--batch-size", "16", "--verbose", "0"]
    main(COMMAND, [*base, "--epochs", "2", "--output", str(run)])
    for name in ("model.keras", "metrics.json", "predictions.csv", "confusion_matrix.png"):
        (run / name).unlink()  # what a crash after epoch 2 leaves
    backup = run / "backup" / "epoch_002.weights.h5"
    saved = backup.read_bytes()
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        main(COMMAND, ["--resume", "--output", str(run), "--epochs", "4", "--lr", "1e30"])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 1 and len(err) == 1, err
    assert "non-finite loss" in err[0] and "epoch 3" in err[0] and "--resume" in err[0]
    assert not (run / "model.keras").exists() and not (run / "metrics.json").exists()
    assert "non-finite loss" in (run / "FAILED").read_text()
    assert backup.read_bytes() == saved and pd.read_csv(run / "history.csv")["epoch"].tolist() \
        == [0, 1]
    main(COMMAND, ["--resume", "--output", str(run), "--epochs", "4"])  # the saved lr again
    assert pd.read_csv(run / "history.csv")["epoch"].tolist() == [0, 1, 2, 3]
    assert (run / "model.keras").is_file() and not (run / "FAILED").exists()


def test_numeric_flags_are_range_checked(capsys):
    assert "--lr: expected a value > 0, got -1.0" in _error_line(capsys, ["--lr", "-1"])
    assert "--lr: expected a finite number" in _error_line(capsys, ["--lr", "nan"])
    assert "--epochs: expected a value >= 1, got 0" in _error_line(capsys, ["--epochs", "0"])
    assert "--zoom: expected a value >= 0.0 and <= 1.0" in _error_line(capsys, ["--zoom", "2"])
    # the occlusion threshold is checked once, where the flag is: 1.0 is refused
    assert "--threshold: expected a value >= 0.0 and < 1.0, got 1.0" in _error_line(
        capsys, ["--threshold", "1"])
    assert "--crop-from: expected at least --image-size (32), got 30" in _error_line(
        capsys, ["--crop-from", "30", "--image-size", "32", "--output", "/nonexistent/run"])


def _quiet_cli(args, tmp_path):
    """The CLI as a user runs it: TensorFlow's log variable unset."""
    return python_process("-m", "common.train", *args, env={"TF_CPP_MIN_LOG_LEVEL": None},
                          cwd=tmp_path)


def test_user_errors_are_one_line_and_a_run_prints_no_tensorflow_logs(tmp_path, small_demo,
                                                                       demo_settings):
    folder = tmp_path / "images"
    for name in ("a", "b"):
        (folder / name).mkdir(parents=True)
        for i in range(3):
            (folder / name / f"{i}.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 9)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    for args, expected in ((["--data", str(folder)], "0.png: corrupt or not an image"),
                           (["--lr", "-1"], "--lr: expected a value > 0"),
                           (["--output", str(tmp_path / "taken")], "already exists")):
        done = _quiet_cli(args, tmp_path)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and expected in lines[0], done.stderr
    done = _quiet_cli(["--data", small_demo("digits", 6), "--config", demo_settings(COMMAND),
                       "--epochs", "1", "--image-size", "16", "--verbose", "0",
                       "--output", str(tmp_path / "run")], tmp_path)
    assert done.returncode == 0, done.stderr
    assert all(line.startswith("common: ") for line in done.stderr.strip().splitlines()), \
        done.stderr


def test_non_finite_guard_stops_a_users_own_fit_at_the_first_nan_batch():
    import keras
    import numpy as np
    from common.training.nonfinite_guard import NonFiniteError, NonFiniteGuard
    x = np.ones((8, 2), "float32")
    y = np.array([0, 1] * 4)
    y_nan = x.copy()
    y_nan[5] = np.nan  # batch 2 of 4 (batch size 2) carries a NaN
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    seen = []
    counter = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(b))
    with pytest.raises(NonFiniteError, match=r"epoch 1, batch 3"):
        model.fit(y_nan, y, batch_size=2, epochs=2, shuffle=False, verbose=0,
                  callbacks=[NonFiniteGuard(), counter])
    assert seen == [0, 1]  # the guard acted before any later callback saw batch 3
