"""What attention-evaluate writes: its --out claimed as the trainers claim
theirs, nothing half written on a full disk, and the reliance check
(--ignore) against a loop over the same images."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from common.data.pipeline import decode_image
from common.evaluate import main as evaluate_main

# Beside tests/common/test_evaluate.py: one worker builds the shared runs once.
pytestmark = pytest.mark.xdist_group("test_evaluate")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_an_evaluation_claims_its_out_folder(runs, tmp_path, evaluate_error, monkeypatch):
    """Two evaluations into one --out: the folder is the first's, the second
    stops in one line (also when it passed the checks before the first
    claimed the folder), and the first's files stay."""
    from common import evaluate as module
    run, data = runs["digits"]
    out = tmp_path / "out"
    argv = ["--model", str(run / "model.keras"), "--data", data, "--out", str(out),
            "--steps", "2", "--pictures", "1", "--verbose", "0"]
    evaluate_main(argv)
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert {"README.txt", "metrics.json"} <= set(first) and len(first) == 3, sorted(first)
    assert "holds files already" in evaluate_error(argv)
    real_claim = module.claim_output

    def empty_at_check_then_taken(folder, overwrite=False, claim=True):
        if not claim:  # the check before loading saw an empty folder
            return None
        return real_claim(folder, overwrite, claim)
    monkeypatch.setattr(module, "claim_output", empty_at_check_then_taken)
    assert "holds files already" in evaluate_error(argv)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first


def test_a_full_disk_during_an_evaluation_is_one_line_and_leaves_no_half_result(runs,
                                                                             tmp_path):
    from tests.test_first_contact import _small_filesystem
    run, data = runs["digits"]
    out = tmp_path / "small"
    prefix = _small_filesystem(out, "size=12k")
    listing = f'"$0" -m common.evaluate "$@"; s=$?; ls -A "{out / "eval"}"; exit $s'
    done = subprocess.run(
        [*prefix, "sh", "-c", listing, sys.executable, "--model", str(run / "model.keras"),
         "--data", data, "--out", str(out / "eval"), "--steps", "2", "--pictures", "3",
         "--verbose", "0"], cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**{k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"},
             "PYTHONPATH": ROOT})
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.stderr[-3000:]
    assert "No space left on device" in lines[0] and "has no metrics.json" in lines[0], lines
    # What the folder held when the command ended (listed inside the mount):
    assert done.stdout.split() == ["README.txt"], done.stdout


def test_the_reliance_check_matches_a_loop_and_refuses_rows_without_masks(runs, tmp_path,
                                                                          capsys, evaluate_error):
    """attention-evaluate --ignore COLUMN: the share of predictions that change
    when each image's masked region comes from the image before it, against
    a loop over the same decoded images and masks."""
    from common.data.pipeline import decode_mask
    run, data = runs["digits"]
    frame = pd.read_csv(data)
    frame["path"] = [os.path.join(os.path.dirname(data), p) for p in frame["path"]]
    mask = np.zeros((16, 16), np.uint8)
    mask[:, :8] = 255  # the left half
    cv2_path = tmp_path / "left.png"
    import cv2
    cv2.imwrite(str(cv2_path), mask)
    frame["region"] = str(cv2_path)
    csv = tmp_path / "data.csv"
    frame.to_csv(csv, index=False)
    out = tmp_path / "out"
    evaluate_main(["--model", str(run / "model.keras"), "--data", str(csv), "--out", str(out),
                   "--ignore", "region", "--steps", "2", "--pictures", "0", "--batch-size", "5",
                   "--verbose", "0"])
    result = json.loads((out / "metrics.json").read_text())["reliance"]
    model = keras.saving.load_model(run / "model.keras")
    test = frame[frame["split"] == "test"]
    images = tf.stack([decode_image(p, (16, 16)) for p in test["path"]]).numpy()
    region = decode_mask(tf.constant(str(cv2_path)), (16, 16)).numpy()[..., None]
    predict = lambda x: model.predict(x, verbose=0).argmax(-1)  # noqa: E731
    donors = np.concatenate([images[1:2], images[:-1]])
    own, swapped = predict(images), predict(images * (1 - region) + donors * region)
    assert result["changed_pct"] == pytest.approx(100.0 * np.mean(own != swapped))
    assert result["images"] == len(test) and 0 <= result["map_share_inside_pct"]["gradcam"]
    assert "of predictions change" in capsys.readouterr().out
    frame.loc[test.index[-1], "region"] = ""
    frame.to_csv(csv, index=False)
    line = evaluate_error(["--model", str(run / "model.keras"), "--data", str(csv), "--out",
                           str(tmp_path / "out2"), "--ignore", "region"])
    assert "--ignore: 1 of the" in line and "have no mask in column 'region'" in line
