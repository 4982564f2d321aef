"""The benches' held-out 'where' sets at another size than the demo's
(--per-class): the size reaches the files, bench/claims.py and
bench/explanations.py read the same set, and sets of two sizes never share
a folder (the benches resume from finished runs in --work)."""

import os
import sys

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
