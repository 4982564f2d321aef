"""agnet.train end to end on the demo, and agnet.predict on its model."""

import json
import os
import subprocess
import sys

import pandas as pd

from agnet.train import COMMAND
from common.training.entry import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_demo_run_then_predict(tmp_path, monkeypatch, small_demo, demo_settings):
    monkeypatch.setenv("AGNET_REGION_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    main(COMMAND, ["--data", small_demo("fashion", 12), "--config", demo_settings(COMMAND),
                   "--output", str(run), "--epochs", "1", "--image-size", "48",
                   "--num-primary", "3", "--batch-size", "64", "--verbose", "0"])
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"top1", "top5", "mAP"} <= set(metrics)
    assert metrics["top1"] == metrics["accuracy"] and metrics["top5"] >= metrics["top1"]
    assert "top5" in pd.read_csv(run / "history.csv").columns
    assert (run / "cams" / "epoch_001.png").is_file()
    images = list(pd.read_csv(run / "predictions.csv")["path"][:2])
    done = subprocess.run([sys.executable, "-m", "agnet.predict", "--model",
                           str(run / "model.keras"), "--out", str(tmp_path / "out"), *images],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2 and all(line.count(",") == 4 for line in lines)  # top-5
    assert len(list((tmp_path / "out").glob("*_regions.png"))) == 2


def test_a_crop_that_would_misplace_the_regions_is_refused(tmp_path, capsys):
    import pytest
    with pytest.raises(SystemExit) as stop:
        main(COMMAND, ["--crop-from", "80", "--output", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1 and "--crop-from: AG-Net's regions" in err[0]
    assert not (tmp_path / "run").exists()


def test_the_geometric_flags_reach_the_region_augmentation(tmp_path, capsys):
    import pytest

    from agnet.trainer import AgnetTrainer
    from common.training.entry import parse
    args = parse(COMMAND, ["--rotation", "30", "--zoom", "0.2", "--translation", "0.05",
                           "--output", str(tmp_path / "run")])
    augment = AgnetTrainer(COMMAND).augmentation(args)
    assert (augment.rotation, augment.scale, augment.translation) == (30.0, (0.8, 1.2), 0.05)
    defaults = AgnetTrainer(COMMAND).augmentation(parse(COMMAND, ["--output", str(tmp_path)]))
    assert (defaults.rotation, defaults.translation) == (15.0, 0.15)  # the paper's
    with pytest.raises(SystemExit) as stop:
        main(COMMAND, ["--brightness", "0.5,1.5", "--output", str(tmp_path / "other")])
    assert stop.value.code == 2 and "--brightness: AG-Net's augmentation" in \
        capsys.readouterr().err


def test_a_run_saved_with_the_old_hnc_defaults_resumes(tmp_path):
    """agnet runs written before HNC left the base flags hold hnc_* keys in
    config.yaml: --resume reads the run's settings and drops those."""
    from common.training.entry import parse
    (tmp_path / "config.yaml").write_text(
        "method: agnet\nepochs: 3\nhnc_weight: 0.0\nhnc_k: null\nhnc_variant: mse\n")
    args = parse(COMMAND, ["--resume", "--output", str(tmp_path)])
    assert args.epochs == 3 and not hasattr(args, "hnc_weight")
