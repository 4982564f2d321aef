"""The benches' held-out 'where' sets at another size than the demo's
(--per-class): the size reaches the files, bench/claims.py and
bench/explanations.py read the same set, and sets of two sizes never share
a folder (the benches resume from finished runs in --work)."""

import os
import sys

import cv2
import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "bench"))

import claims  # noqa: E402
import explanations  # noqa: E402
import heldout  # noqa: E402


def test_per_class_sets_the_size_and_the_folder(tmp_path):
    args = claims.data_args("where-plain-heldout", str(tmp_path), per_class=20)
    assert args[1] == str(tmp_path / "where-plain-heldout-20" / "data.csv")
    assert args[3] == str(tmp_path / "where-plain-heldout-20" / "masks.npz")
    frame = pd.read_csv(args[1])
    assert frame.groupby("label").size().to_dict() == {
        name: 20 for name in ("absent", "bottom", "center", "top_left", "top_right")}
    # 70 / 15 / 15 % of each class, as the demo splits.
    assert frame.groupby(["label", "split"]).size().unstack()["test"].tolist() == [3] * 5
    # bench/explanations.py reads the same set (it scores the claims runs).
    assert explanations.dataset("where-plain-heldout", str(tmp_path), 20) == (args[1], args[2:])
    assert heldout.set_folder("where-plain-heldout", None) == "where-plain-heldout"
    assert heldout.set_folder("fashion-heldout", 800) == "fashion-heldout"  # not a 'where' set


def _pixels(csv):
    frame = pd.read_csv(csv)
    folder = os.path.dirname(csv)
    return frame, {cv2.imread(os.path.join(folder, p), cv2.IMREAD_UNCHANGED).tobytes()
                   for p in frame["path"]}


def test_the_second_fashion_heldout_set_shares_no_image_with_the_first(tmp_path):
    first, a = _pixels(heldout.heldout_set("fashion-heldout", str(tmp_path)))
    second, b = _pixels(claims.data_args("fashion-heldout-b", str(tmp_path))[1])
    assert len(a) > 2900 and len(b) > 2900 and not a & b
    assert second.groupby("label").size().tolist() == [300] * 10
    assert sorted(set(second["label"])) == sorted(set(first["label"]))


def test_digits_on_clutter_are_the_digits_on_a_64_pixel_canvas(tmp_path):
    frame, _ = _pixels(claims.data_args("digits-clutter", str(tmp_path))[1])
    assert len(frame) == 1797 and sorted(set(frame["label"])) == list(range(10))
    image = cv2.imread(str(tmp_path / "digits-clutter" / frame["path"][0]), cv2.IMREAD_UNCHANGED)
    assert image.shape[:2] == (64, 64)


def test_the_reading_is_level_unless_the_difference_exceeds_both_spreads():
    assert claims.reading([0.60, 0.62, 0.64], [0.50, 0.52, 0.54])[2] == "ahead"
    difference, spread, word = claims.reading([0.635, 0.597, 0.634], [0.668, 0.636, 0.647])
    np.testing.assert_allclose([difference, spread], [-0.028333, 0.038], atol=1e-6)
    assert word == "level"  # issue 42's table: behind on every seed, but within the spread
    assert claims.reading([0.50, 0.51], [0.60, 0.61])[2] == "behind"
    line = claims.row("s", "agnet", ([0.60, 0.62], [False, False]),
                      ([0.50, 0.52], [True, False]), "plain")
    assert line.endswith("| 0.500\u2020 / 0.520 | **0.610 (0.020)** | 0.510 (0.020) | +0.100 "
                         "| ahead |"), line


def test_a_run_that_wrote_metrics_and_failed_is_marked(tmp_path, capsys):
    """A bench never reads a failed run as a result (a run stuck at chance
    still writes metrics.json, then its FAILED note)."""
    import json
    for seed, failed in ((0, True), (1, False)):
        run = tmp_path / f"runs-{seed}"
        run.mkdir()
        (run / "metrics.json").write_text(json.dumps({"accuracy": 0.1 + seed}))
        if failed:
            (run / "FAILED").write_text("the kept model (epoch 2) is at chance: ...\nmore\n")
    failures = []
    values, failed = claims.accuracies("common.train", [], [0, 1], str(tmp_path / "runs"),
                                       failures)
    assert values == [0.1, 1.1] and failed == [True, False]
    assert failures == [("runs-0", "the kept model (epoch 2) is at chance: ...")]
    assert "runs-0: 0.100 (FAILED: the kept model" in capsys.readouterr().err
