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

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAST = ["--image-size", "16", "--batch-size", "64", "--verbose", "0"]


def _cli(args, **kwargs):
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.run([sys.executable, "-m", "common.train", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600, **kwargs)


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
    # A fresh process that imports only the toolkit reloads and predicts the same.
    reloaded_predictions_match(run, image_size=16)


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
            "--image-size", "24", "--batch-size", "16", "--verbose", "0"]
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
