"""attention-evaluate end to end on tiny trained runs, without boxes
(digits) and with boxes (wsol): metrics.json checked against computations
made here, independently, on the same images; bad input is one line."""

import json
import os

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from common.cam import GradCAM
from common.data.pipeline import decode_image
from tests.fresh_process import python_process

# One worker runs this file and builds its fixture once (pytest-xdist: a module
# fixture is torn down whenever a worker waits for more tests, so it is session-scoped).
pytestmark = pytest.mark.xdist_group("test_evaluate")

STEPS = 10


def _cli(*args):
    return python_process("-m", "common.evaluate", *args)


def _test_images(data):
    """The test rows of a demo CSV: (absolute paths, labels, boxes)."""
    frame = pd.read_csv(data)
    frame = frame[frame["split"] == "test"]
    paths = [os.path.join(os.path.dirname(data), p) for p in frame["path"]]
    boxes = frame[["x0", "y0", "x1", "y1"]].to_numpy() if "x0" in frame else None
    return paths, frame["label"].astype(str).to_numpy(), boxes


def _deletion_by_loop(model, images, maps, classes, steps):
    """Mean deletion curve and AUC: pixels set to 0 in descending map order
    (ties in row-major order), floor(k H W / steps) after step k."""
    count, height, width, _ = images.shape
    perturbed = []
    for image, heat in zip(images, maps):
        order = np.argsort(-heat.ravel(), kind="stable")
        for k in range(steps + 1):
            copy = image.reshape(-1, 3).copy()
            copy[order[:k * height * width // steps]] = 0.0
            perturbed.append(copy.reshape(image.shape))
    scores = model.predict(np.stack(perturbed), verbose=0).reshape(count, steps + 1, -1)
    curves = scores[np.arange(count), :, classes]  # (count, steps + 1)
    fractions = np.arange(steps + 1) * (height * width) // steps / (height * width)
    aucs = [np.trapezoid(curve, fractions) for curve in curves]
    return curves.mean(axis=0), float(np.mean(aucs))


def _cam_by_hand(model, images, classes):
    """The class activation map of a GAP -> Dense head from the feature
    layer's output and the Dense kernel, resized and min-max normalised."""
    gap, dense = model.get_layer("gap"), model.get_layer("classifier")
    feature_map = keras.Model(model.inputs, gap.input).predict(images, verbose=0)
    cams = np.einsum("bhwc,ck->bhwk", feature_map, dense.kernel.numpy()) + dense.bias.numpy()
    chosen = cams[np.arange(len(images)), :, :, classes]
    resized = tf.image.resize(chosen[..., None], images.shape[1:3])[..., 0].numpy()
    low = resized.min(axis=(1, 2), keepdims=True)
    span = resized.max(axis=(1, 2), keepdims=True) - low
    return np.where(span > 0, (resized - low) / np.where(span > 0, span, 1), 0)


def test_digits_metrics_match_a_computation_made_here(runs, tmp_path):
    run, data = runs["digits"]
    out = tmp_path / "eval"
    done = _cli("--model", str(run / "model.keras"), "--data", data, "--out", str(out),
                "--maps", "gradcam,cam", "--steps", str(STEPS), "--pictures", "3",
                "--batch-size", "8", "--verbose", "0")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr == ""  # --verbose 0: no bar, no TensorFlow log lines
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(list(out.glob("*.png"))) == 3
    classes = json.loads((run / "classes.json").read_text())
    model = keras.saving.load_model(run / "model.keras")
    paths, labels, _ = _test_images(data)
    images = np.stack([decode_image(p, (16, 16)).numpy() for p in paths])
    probabilities = model.predict(images, verbose=0)
    predicted = probabilities.argmax(-1)
    truth = np.array([classes.index(label) for label in labels])
    assert metrics["images"] == len(paths) == 20 and metrics["split"] == "test"
    assert metrics["accuracy"] == pytest.approx(float(np.mean(predicted == truth)))
    assert {"f1_macro", "precision_weighted", "true_positive_rate"} <= set(metrics)
    # Deletion of Grad-CAM's maps, pixel by pixel in a NumPy loop.
    maps = GradCAM(model)(images, class_index=predicted).numpy()
    curve, auc = _deletion_by_loop(model, images, maps, predicted, STEPS)
    gradcam = metrics["maps"]["gradcam"]
    np.testing.assert_allclose(gradcam["deletion_curve"], curve, atol=1e-5)
    assert gradcam["deletion_auc"] == pytest.approx(auc, abs=1e-5)
    assert curve[0] - curve[-1] > 0.01  # the curve moves: the check can fail
    # Average drop and increase in confidence of the CAM computed by hand.
    cam = _cam_by_hand(model, images, predicted)
    explained = model.predict(images * cam[..., None], verbose=0)[np.arange(20), predicted]
    full = probabilities[np.arange(20), predicted]
    drop = 100 * np.mean(np.maximum(0, full - explained) / full)
    assert metrics["maps"]["cam"]["average_drop_pct"] == pytest.approx(drop, abs=1e-3)
    assert metrics["maps"]["cam"]["increase_in_confidence_pct"] == pytest.approx(
        100 * np.mean(explained > full))
    assert "pointing_game_pct" not in gradcam and "gt_known_loc_pct" not in gradcam


def test_wsol_metrics_match_fam_evaluate_and_a_pointing_game_made_here(runs, tmp_path):
    from common.data.formats import read_data
    from fam.evaluate import evaluate as fam_evaluate
    run, data = runs["wsol"]
    out = tmp_path / "eval"
    done = _cli("--model", str(run / "model.keras"), "--data", data, "--out", str(out),
                "--maps", "gradcam", "--steps", "4", "--pictures", "1")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "evaluation: 100%" in done.stderr  # the progress bar
    gradcam = json.loads((out / "metrics.json").read_text())["maps"]["gradcam"]
    classes = json.loads((run / "classes.json").read_text())
    model = keras.saving.load_model(run / "model.keras")
    # fam-evaluate localises with Grad-CAM of the true class too: same numbers.
    table, _ = read_data(data)
    table = table[table["split"] == "test"].reset_index(drop=True)
    wsol = fam_evaluate(model, table, classes, str(tmp_path / "fam"), pictures=0,
                        split="test", verbose=0)
    for key in ("gt_known_loc_pct", "top1_loc_pct", "top1_cls_pct", "max_box_acc_v2_pct"):
        assert gradcam[key] == pytest.approx(wsol[key]), key
    # Pointing game: the true class's map at the files' 64 px, its first
    # maximum within 15 px of a pixel whose centre lies in the box.
    paths, labels, boxes = _test_images(data)
    images = np.stack([decode_image(p, (16, 16)).numpy() for p in paths])
    truth = np.array([classes.index(label) for label in labels])
    maps = GradCAM(model)(images, class_index=truth).numpy()
    big = tf.image.resize(maps[..., None], (64, 64))[..., 0].numpy()
    hits = []
    for heat, (x0, y0, x1, y1) in zip(big, boxes):
        peak_y, peak_x = np.unravel_index(np.argmax(heat), heat.shape)
        ys, xs = np.mgrid[y0:y1, x0:x1]
        hits.append(np.any((ys - peak_y) ** 2 + (xs - peak_x) ** 2 <= 15 ** 2))
    assert gradcam["pointing_game_pct"] == pytest.approx(100 * np.mean(hits))
    assert 0 < np.mean(hits) < 1  # hits and misses: the check can fail
    shifted = big - big.min(axis=(1, 2), keepdims=True)  # a constant map scores 0
    inside = [heat[y0:y1, x0:x1].sum() / heat.sum() if heat.sum() > 0 else 0.0
              for heat, (x0, y0, x1, y1) in zip(shifted, boxes)]
    assert gradcam["energy_pointing_game_pct"] == pytest.approx(100 * np.mean(inside),
                                                                abs=1e-3)


def test_batches_do_not_change_the_metrics(runs, tmp_path):
    """The test set streams: batch sizes that do and do not divide it give
    the same metrics and the same pictures."""
    from common.data.formats import read_data
    from common.evaluate import evaluate
    run, data = runs["wsol"]
    classes = json.loads((run / "classes.json").read_text())
    model = keras.saving.load_model(run / "model.keras")
    table, _ = read_data(data)
    table = table[table["split"] == "test"].reset_index(drop=True)
    results = [evaluate(model, table, classes, str(tmp_path / str(size)), ("cam", "layercam"),
                        steps=4, batch_size=size, pictures=3, verbose=0)
               for size in (3, 20)]
    for source in ("cam", "layercam"):
        first, second = (r["maps"][source] for r in results)
        assert set(first) == set(second)
        for key, value in first.items():
            np.testing.assert_allclose(value, second[key], atol=1e-5, err_msg=key)
    assert results[0]["accuracy"] == results[1]["accuracy"]
    assert sorted(os.listdir(tmp_path / "3")) == sorted(os.listdir(tmp_path / "20"))
    # The pictures carry the ground-truth boxes at the model's 16 px (files: 64 px).
    from common.evaluation import evaluate_classifier
    _, kept = evaluate_classifier(model, table, classes, ("cam",), steps=2, batch_size=3,
                                  keep=4, verbose=0)
    _, _, boxes = _test_images(data)
    assert [k["boxes"].tolist() for k in kept] == [[[int(v) * 16 // 64 for v in box]]
                                                   for box in boxes[:4]]


def test_bad_input_is_one_line(runs, tmp_path, evaluate_error):
    run, data = runs["digits"]
    model = str(run / "model.keras")
    base = ["--data", data, "--out", str(tmp_path / "out")]
    assert "no file" in evaluate_error(["--model", str(tmp_path / "none.keras"), *base])
    line = evaluate_error(["--model", model, *base, "--maps", "gradcam,gradcam2"])
    assert "--maps" in line and "gradcam2" in line
    other = tmp_path / "other.csv"
    frame = pd.read_csv(data)
    frame["path"] = [os.path.join(os.path.dirname(data), p) for p in frame["path"]]
    frame.assign(label=frame["label"].astype(str) + "x").to_csv(other, index=False)
    line = evaluate_error(["--model", model, "--data", str(other), "--out", str(tmp_path)])
    assert "not among the model's classes" in line and "0x" in line
    # A head without class maps: --maps cam is refused, Grad-CAM works.
    flat = tmp_path / "flat"
    flat.mkdir()
    network = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3),
                                keras.layers.Flatten(), keras.layers.Dense(10, "softmax")])
    network.save(flat / "model.keras")
    (flat / "classes.json").write_text((run / "classes.json").read_text())
    line = evaluate_error(["--model", str(flat / "model.keras"), *base, "--maps", "cam"])
    assert "error: --maps cam:" in line and "GAP -> [Dropout] -> Dense" in line
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "metrics.json").write_text("{}")
    assert "--overwrite" in evaluate_error(["--model", model, *base])
    assert (tmp_path / "out" / "metrics.json").read_text() == "{}"
