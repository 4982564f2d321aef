"""``attend`` masks from a CSV through the installed ``attention-train``:
HINT, FSA on each image's mask (``--masks attend``) and box energy on the
masks (``--box-energy-region attend``, which moves with the augmentation, so
``--flip`` is allowed) train together, with no native log line on stderr;
data without ``attend`` is one line."""

import numpy as np
import pandas as pd
import pytest

from tests.common.annotated_data import annotated_csv, tiny_train

def _draw(i):
    mask = np.zeros((16, 16), np.uint8)
    mask[4:12, 3 + i % 4:11 + i % 4] = 255
    return mask


def _csv(tmp_path, with_attend=True):
    return annotated_csv(tmp_path, "attend", _draw, with_attend, seed=1)


def test_the_attend_guides_train_from_the_csv(tmp_path):
    done = tiny_train("--data", _csv(tmp_path), "--hint", "1", "--masks", "attend",
                  "--box-energy", "1", "--box-energy-region", "attend", "--flip", "horizontal",
                  "--output", tmp_path / "run")
    assert done.returncode == 0, done.stderr[-3000:]
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    assert history["hint_loss"].gt(0).all(), history
    assert history["fsa_loss"].gt(0).all() and history["box_energy"].lt(0).all(), history
    assert "val_hint_loss" in history
    # a CPU run with augmentation layers: no native "E0000 ... use_unbounded_threadpool"
    assert "use_unbounded_threadpool" not in done.stderr, done.stderr[-2000:]


@pytest.mark.parametrize("flags, named", [
    (("--hint", "1"), "--hint"),
    (("--masks", "attend"), "--masks attend"),
    (("--box-energy", "1", "--box-energy-region", "attend"), "--box-energy-region attend"),
], ids=["hint", "fsa", "box-energy"])
def test_data_without_attend_is_one_line(tmp_path, flags, named):
    done = tiny_train("--data", _csv(tmp_path, with_attend=False), *flags, "--flip", "none",
                  "--output", tmp_path / "run")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-3000:]
    assert lines[0].startswith(f"attention-train: error: {named}: '") and "has no attend" \
        in lines[0], lines
