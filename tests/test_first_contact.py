"""What a user meets first: every failure of a training command is one line
and the right exit status, nothing already written is lost, and a run
folder explains itself."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pandas as pd
import pytest

from common.train import COMMAND
from common.training import harness
from common.training.entry import main
from tests.fresh_process import interruptible

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env():
    return {**os.environ, "PYTHONPATH": ROOT}


def _train(args, prefix=(), **kwargs):
    return subprocess.run([*prefix, sys.executable, "-m", "common.train", *args], cwd=ROOT,
                          env=_env(), capture_output=True, text=True, timeout=600, **kwargs)


def _one_line(done, status):
    lines = done.stderr.strip().splitlines()
    assert done.returncode == status and len(lines) == 1, (done.returncode, done.stderr[-3000:])
    return lines[0]


def _tiny(small_demo, demo_settings):
    """Flags of a run of a few seconds on 6 digits per class."""
    return ["--data", small_demo("digits", 6), "--config", demo_settings(COMMAND),
            "--image-size", "16", "--batch-size", "16", "--verbose", "0"]


def _digests(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _small_filesystem(folder, options):
    """A command prefix that runs the command with a fresh tmpfs mounted on
    ``folder`` (in a private mount namespace; no root needed where user
    namespaces are allowed)."""
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "true"],
                           capture_output=True)
    if shutil.which("unshare") is None or probe.returncode:
        pytest.skip("this system cannot make a private small file system (unshare)")
    folder.mkdir(parents=True, exist_ok=True)
    return ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
            f'mount -t tmpfs -o {options} tmpfs "{folder}" && exec "$0" "$@"']


def test_resume_with_another_trainer_is_refused_and_the_run_untouched(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("method: distraction\nepochs: 2\np: 0.25\n")
    (run / "metrics.json").write_text('{"accuracy": 0.5, "erased": {"accuracy": 0.4}}')
    before = _digests(run)
    with pytest.raises(SystemExit) as stop:
        main(COMMAND, ["--resume", "--output", str(run)])
    lines = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(lines) == 1, lines
    assert "run of distraction (distraction-train)" in lines[0], lines
    assert _digests(run) == before


def test_data_with_one_class_is_refused_before_anything_is_written(tmp_path):
    folder = tmp_path / "images" / "only"
    folder.mkdir(parents=True)
    for i in range(4):
        cv2.imwrite(str(folder / f"{i}.png"), np.full((20, 20, 3), 40 * i, np.uint8))
    line = _one_line(_train(["--data", str(tmp_path / "images"), "--output",
                             str(tmp_path / "run"), "--verbose", "0"]), 2)
    assert "has 1 class (['only'])" in line and "at least two" in line, line
    assert not (tmp_path / "run").exists()


def test_a_read_only_output_is_refused_before_the_data_loads(tmp_path):
    mounted = tmp_path / "ro"
    prefix = _small_filesystem(mounted, "ro,size=1m")
    started = time.time()
    line = _one_line(_train(["--output", str(mounted / "run"), "--verbose", "0"],
                            prefix=prefix), 2)
    assert "--output: cannot write run folder" in line and "not writable" in line, line
    assert time.time() - started < 60  # before data and model (TensorFlow not even loaded)


def test_a_run_that_finds_its_folder_taken_meanwhile_stops_in_one_line(
        tmp_path, capsys, monkeypatch, small_demo, demo_settings):
    """Two runs started into one empty --output: both pass the argument
    check; the second to claim the folder stops, and the first's files stay."""
    run = tmp_path / "run"
    load_data = harness.load_data

    def other_run_claims_the_folder_meanwhile(*args, **kwargs):
        run.mkdir(exist_ok=True)
        (run / "README.txt").write_text("the other run\n")
        return load_data(*args, **kwargs)
    monkeypatch.setattr(harness, "load_data", other_run_claims_the_folder_meanwhile)
    with pytest.raises(SystemExit) as stop:
        main(COMMAND, [*_tiny(small_demo, demo_settings), "--epochs", "1",
                       "--output", str(run)])
    lines = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(lines) == 1 and "already exists" in lines[0], lines
    assert (run / "README.txt").read_text() == "the other run\n"
    assert sorted(os.listdir(run)) == ["README.txt"]


def test_an_interrupt_backs_up_the_finished_epoch_in_one_line(tmp_path, small_demo,
                                                              demo_settings):
    run = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "common.train", *_tiny(small_demo, demo_settings),
         "--epochs", "30", "--output", str(run)], cwd=ROOT, env=_env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        preexec_fn=interruptible)
    history = run / "history.csv"
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        if history.is_file() and len(history.read_text().splitlines()) >= 2:  # epoch 1 ended
            break
        time.sleep(0.02)
    assert process.poll() is None, "training ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    lines = stderr.strip().splitlines()
    assert process.returncode == 130 and len(lines) == 1, (process.returncode, stderr)
    kept = json.loads((run / "backup" / "training_metadata.json").read_text())["epoch"]
    assert kept >= 1 and (run / "backup" / f"epoch_{kept:03d}.weights.h5").is_file()
    assert lines[0].startswith("common: interrupted in epoch ")
    assert f"the backup of epoch {kept} is kept" in lines[0] and "--resume" in lines[0]
    assert not (run / "model.keras").exists() and not (run / "FAILED").exists()
    assert "backup" in (run / "README.txt").read_text()


def test_a_full_disk_is_one_line_and_exit_1_without_a_crash(tmp_path, small_demo,
                                                             demo_settings):
    mounted = tmp_path / "small"
    prefix = _small_filesystem(mounted, "size=200k")
    done = _train([*_tiny(small_demo, demo_settings), "--epochs", "2", "--output",
                   str(mounted / "run")], prefix=prefix)
    line = _one_line(done, 1)
    assert f"no space left on the device of '{mounted / 'run'}" in line, line
    assert "it needs about" in line and "MB are free" in line, line


def test_the_report_says_when_runs_trained_on_different_data(tmp_path):
    for name, data in (("a", "demo:digits"), ("b", "demo:fashion")):
        run = tmp_path / name
        run.mkdir()
        (run / "config.yaml").write_text(f"method: common\ndata: {data}\nepochs: 1\n")
        (run / "classes.json").write_text(json.dumps([str(i) for i in range(10)]))
        pd.DataFrame({"epoch": [0], "loss": [2.0], "val_loss": [2.1]}).to_csv(
            run / "history.csv", index=False)
    done = subprocess.run([sys.executable, "-m", "common.report", str(tmp_path / "a"),
                           str(tmp_path / "b"), "--out", str(tmp_path / "r.html")], cwd=ROOT,
                          env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    warning = "These runs trained on different data (a: demo:digits; b: demo:fashion)"
    assert warning in done.stderr.splitlines()[0]
    assert warning in (tmp_path / "r.html").read_text()


def test_region_progress_bar_shows_and_is_off_with_verbose_0(tmp_path, capsys):
    from agnet.cache import compute_regions
    path = tmp_path / "image.png"
    cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 255, (48, 48, 3), np.uint8))
    compute_regions([str(path)], 32, 2, cache_dir=str(tmp_path / "a"), verbose=0)
    assert capsys.readouterr().err == ""
    compute_regions([str(path)], 32, 2, cache_dir=str(tmp_path / "b"), verbose=1)
    assert "SIFT + GMM regions: 100%" in capsys.readouterr().err


def test_cpu_runs_are_made_bit_reproducible_and_xla_says_it_is_not(tmp_path):
    """Without TF_DETERMINISTIC_OPS (which the test session sets), the
    harness turns TensorFlow's op determinism on for a CPU run; with
    --jit-compile it leaves it off and says why in one line."""
    env = {k: v for k, v in _env().items() if k != "TF_DETERMINISTIC_OPS"}
    code = """
import argparse, sys
from tensorflow.python.framework import config
from common.training.model_setup import reproducible
assert not config.is_op_determinism_enabled()
print(reproducible(argparse.Namespace(jit_compile=True)))
assert not config.is_op_determinism_enabled()
assert reproducible(argparse.Namespace(jit_compile=False)) is None
assert config.is_op_determinism_enabled()
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == ("--jit-compile: XLA's CPU kernels are not bit-reproducible; runs "
                           "with the same seed can differ slightly\n")


def test_a_run_killed_while_exporting_says_failed_until_a_resume_completes_it(
        tmp_path, small_demo, demo_settings, monkeypatch, capsys):
    """An interrupt (or a kill) once training ended, while the model and its
    exports are written: RUN/FAILED says so and how to resume; the resume
    writes the rest and removes it."""
    from common.training import run_exports
    run = tmp_path / "run"
    argv = [*_tiny(small_demo, demo_settings), "--epochs", "1", "--output", str(run)]

    def killed(*args, **kwargs):
        raise KeyboardInterrupt
    with monkeypatch.context() as patch:
        patch.setattr(run_exports, "write_exports", killed)
        with pytest.raises(SystemExit) as stop:
            main(COMMAND, argv)
    assert stop.value.code == 130
    note = (run / "FAILED").read_text()
    assert "stopped while its model, exports and test metrics were written" in note, note
    assert f"--resume --output {run}" in note and not (run / "metrics.json").exists()
    capsys.readouterr()
    assert main(COMMAND, [*argv, "--resume"]) == str(run)
    assert not (run / "FAILED").exists() and (run / "metrics.json").is_file()
    assert (run / "saved_model" / "saved_model.pb").is_file()


def test_an_interrupted_tflite_conversion_leaves_no_file(tmp_path, monkeypatch):
    import tensorflow as tf

    from common.export import export_tflite

    class Converter:
        target_spec = type("Spec", (), {})()

        def convert(self):
            raise KeyboardInterrupt
    monkeypatch.setattr(tf.lite.TFLiteConverter, "from_saved_model",
                        lambda *args, **kwargs: Converter())
    with pytest.raises(KeyboardInterrupt):
        export_tflite(str(tmp_path / "saved"), str(tmp_path / "model.tflite"))
    assert os.listdir(tmp_path) == []
