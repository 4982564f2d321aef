"""fam.evaluate on a saved model, with a CSV and with WSOL metadata files."""

import json
import os
import subprocess
import sys

import cv2
import numpy as np

from common.backbones import build_backbone
from common.data import read_wsol_metadata
from fam.model import build_fam

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _dataset(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "images" / "a").mkdir(parents=True)
    ids, rows = [], []
    for i in range(4):
        image = rng.integers(0, 60, (40, 50, 3), np.uint8)
        image[10:25, 15:35] = 230
        name = f"a/{i}.png"
        cv2.imwrite(str(tmp_path / "images" / name), image)
        ids.append(name)
        rows.append(f"images/{name},{i % 2},15,10,34,24")
    (tmp_path / "test.csv").write_text("path,label,x0,y0,x1,y1\n" + "\n".join(rows) + "\n")
    meta = tmp_path / "metadata"
    meta.mkdir()
    (meta / "image_ids.txt").write_text("\n".join(ids) + "\n")
    (meta / "class_labels.txt").write_text("\n".join(f"{n},{i % 2}" for i, n in
                                                     enumerate(ids)) + "\n")
    (meta / "localization.txt").write_text("\n".join(f"{n},15,10,34,24" for n in ids) +
                                           f"\n{ids[0]},0,0,5,5\n")
    return ids


def test_metadata_folder_reads_labels_and_every_box(tmp_path):
    ids = _dataset(tmp_path)
    table, classes = read_wsol_metadata(str(tmp_path / "metadata"), str(tmp_path / "images"))
    assert classes == ["0", "1"] and len(table) == 4
    assert table["boxes"].iloc[0] == ((15, 10, 34, 24), (0, 0, 5, 5))
    assert table["path"].iloc[1] == str(tmp_path / "images" / ids[1])


def test_evaluate_cli_writes_metrics_and_pictures(tmp_path):
    _dataset(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    build_fam(build_backbone("tiny", (32, 32, 3)), 2).network.save(run / "model.keras")
    (run / "classes.json").write_text(json.dumps(["0", "1"]))
    env = {**os.environ, "PYTHONPATH": ROOT}
    for data, extra in ((tmp_path / "test.csv", []),
                        (tmp_path / "metadata", ["--image-root", str(tmp_path / "images")])):
        out = tmp_path / f"out-{data.name}"
        done = subprocess.run([sys.executable, "-m", "fam.evaluate", "--model",
                               str(run / "model.keras"), "--data", str(data), "--out",
                               str(out), "--pictures", "2", *extra], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        metrics = json.loads((out / "metrics.json").read_text())
        assert {"gt_known_loc", "top1_loc", "top1_cls", "max_box_acc_v2"} <= set(metrics)
        assert len(list(out.glob("*.png"))) == 2
