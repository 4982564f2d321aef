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
    for i, folder in enumerate(("left", "right")):  # the same file name twice
        (tmp_path / folder).mkdir()
        path = tmp_path / folder / "img.png"
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
    outputs = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert outputs == ["left_img_gradcam.png", "right_img_gradcam.png"]
    picture = cv2.imread(str(tmp_path / "out" / outputs[0]))
    assert min(picture.shape[:2]) >= 224  # drawn for a person, not at 24 px
    again = subprocess.run(command + ["--class", "b", *images], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=300)
    lines = again.stderr.strip().splitlines()
    assert again.returncode == 2 and len(lines) == 1 and "--overwrite" in lines[0]
    bad = subprocess.run(command + ["--overwrite", "--class", "zebra", images[0]], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "'zebra' is not one of" in bad.stderr.strip().splitlines()[-1]


def test_output_names_keep_same_named_inputs_apart(tmp_path):
    from common.commandline.model_command import ModelCommand
    paths = ModelCommand.output_paths(str(tmp_path), ["/d/a/x.png", "/d/b/x.png",
                                                      "/d/b/y.jpg"], "_map.png")
    assert [os.path.basename(p) for p in paths] == ["a_x_map.png", "b_x_map.png",
                                                    "b_y_map.png"]
    twice = ModelCommand.output_paths(str(tmp_path), ["/d/a/x.png", "/d/a/x.png"], ".png")
    assert len(set(twice)) == 2
    (tmp_path / "x.png").write_bytes(b"keep")
    import pytest
    with pytest.raises(ValueError, match="--overwrite"):
        ModelCommand.output_paths(str(tmp_path), ["/d/a/x.png"], ".png")
    assert ModelCommand.output_paths(str(tmp_path), ["/d/a/x.png"], ".png", overwrite=True)
