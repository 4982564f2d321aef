"""python -m common.explain on a saved baseline model."""

import json
import os
import subprocess
import sys

import cv2
import numpy as np

from common.backbones import build_backbone
from common.classifier import build_cam_classifier

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_explain_writes_overlays_and_rejects_bad_input(tmp_path):
    network = build_cam_classifier(build_backbone("tiny", (24, 24, 3)), 3)
    network.save(tmp_path / "model.keras")
    (tmp_path / "classes.json").write_text(json.dumps(["a", "b", "c"]))
    images = []
    for i in range(2):
        path = tmp_path / f"img{i}.png"
        cv2.imwrite(str(path), np.random.default_rng(i).integers(0, 255, (40, 30, 3),
                                                                   np.uint8))
        images.append(str(path))
    env = {**os.environ, "PYTHONPATH": ROOT}
    command = [sys.executable, "-m", "common.explain", "--model", str(tmp_path / "model.keras"),
               "--out", str(tmp_path / "out")]
    done = subprocess.run(command + ["--class", "b", *images], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("map of b") == 2
    overlay = cv2.imread(str(tmp_path / "out" / "img0_gradcam.png"))
    assert overlay.shape == (24, 24, 3)
    bad = subprocess.run(command + ["--class", "zebra", images[0]], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "'zebra' is not one of" in bad.stderr.strip().splitlines()[-1]
