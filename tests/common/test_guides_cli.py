"""attention-train composes guides from its flags and trains your own
network (--network): end to end, with the run folder and a model.keras that
loads the Keras way after ``import common``."""

import json
import os
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from common.train import COMMAND
from tests.fresh_process import python_process

HERE = os.path.dirname(os.path.abspath(__file__))


def _cli(*args):
    return python_process("-m", "common.train", *args, path=[HERE])


def _masks(path, classes, size=64):
    masks = np.zeros((len(classes), 1, size, size), "float32")
    masks[0, 0, : size // 2] = 1.0
    masks[1, 0, size // 2:] = 1.0
    counts = np.array([1, 1] + [0] * (len(classes) - 2))
    np.savez(path, masks=masks, counts=counts, classes=np.array(classes))
    return str(path)


def test_all_guide_flags_with_your_own_network(tmp_path, small_demo, demo_settings,
                                               reloaded_predictions_match):
    data = small_demo("wsol", per_class=4)
    masks = _masks(tmp_path / "masks.npz", [str(i) for i in range(10)])
    run = tmp_path / "run"
    done = _cli("--data", data, "--config", str(demo_settings(COMMAND)), "--image-size", "32",
                "--epochs", "1", "--batch-size", "16", "--verbose", "0", "--output", str(run),
                "--network", "user_networks:sequential", "--masks", masks, "--p", "0.5",
                "--hnc-weight", "0.05", "--box-energy", "1.0")
    assert done.returncode == 0, done.stderr[-3000:]
    history = pd.read_csv(run / "history.csv")
    for name in ("fsa_loss", "hnc_loss", "box_energy", "occluded"):
        assert name in history and f"val_{name}" in history or name == "occluded", name
    assert history["box_energy"].iloc[0] < 0  # minus a share of the energy
    assert history["fsa_loss"].iloc[0] > 0 and history["hnc_loss"].iloc[0] > 0
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["network"] == "user_networks:sequential" and config["box_energy"] == 1.0
    reloaded_predictions_match(run, image_size=32)  # the user's Sequential, no guide inside


def test_a_logits_network_from_a_keras_file(tmp_path, small_demo, demo_settings, run_python):
    run_python(f"""
import sys; sys.path.insert(0, r"{HERE}")
from user_networks import small_logits
small_logits((32, 32, 3), 10).save(r"{tmp_path / 'mine.keras'}")
""")
    run = tmp_path / "run"
    done = _cli("--data", small_demo("digits", per_class=4), "--config",
                str(demo_settings(COMMAND)), "--image-size", "32", "--epochs", "1",
                "--verbose", "0", "--output", str(run), "--network",
                str(tmp_path / "mine.keras"), "--hnc-weight", "0.05")
    assert done.returncode == 0, done.stderr[-3000:]
    predictions = pd.read_csv(run / "predictions.csv")
    probabilities = predictions[[c for c in predictions if c.startswith("p_")]].to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)  # softmax of logits
    assert (probabilities > 0).all()
    metrics = json.loads((run / "metrics.json").read_text())
    accuracy = (predictions["label"].astype(str) == predictions["predicted"].astype(str)).mean()
    assert metrics["accuracy"] == pytest.approx(accuracy)


@pytest.mark.parametrize("flags, message", [
    (["--network", "no_such_module:build"], "--network: cannot import 'no_such_module:build'"),
    (["--network", "nope.keras"], "--network: no file 'nope.keras'"),
    (["--box-energy", "1", "--flip", "horizontal"], "--box-energy: the boxes do not move"),
    (["--masks", "missing.npz"], "--masks: file 'missing.npz' does not exist"),
])
def test_bad_guide_flags_are_one_line(tmp_path, flags, message):
    done = _cli("--output", str(tmp_path / "run"), "--verbose", "0", "--epochs", "1", *flags)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m common.train: error:"), lines
    assert message in lines[0]


def test_network_builders_are_found_in_the_current_folder(tmp_path, monkeypatch):
    """``--network mymod:build`` finds mymod.py beside the user, as
    ``python -m`` would (uvicorn's and gunicorn's convention)."""
    from common.networks import load_network
    (tmp_path / "mymod_here.py").write_text(
        "from tests.common.user_networks import sequential as build\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    network = load_network("mymod_here:build", (16, 16, 3), 3)
    assert network.name == "user_sequential" and network.outputs[0].shape[-1] == 3
