"""fam.evaluate on a saved model, with a CSV and with WSOL metadata files."""

import json

import cv2
import keras
import numpy as np
import pytest

from common.backbones import build_backbone
from common.data.wsol import read_wsol_metadata
from fam.model import build_fam
from tests.fresh_process import python_process


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


def _saved_model(tmp_path):
    """RUN/model.keras (an untrained FAM network, seeded) and classes.json."""
    run = tmp_path / "run"
    run.mkdir()
    keras.utils.set_random_seed(3)
    network = build_fam(build_backbone("tiny", (32, 32, 3)), 2).network
    network.save(run / "model.keras")
    (run / "classes.json").write_text(json.dumps(["0", "1"]))
    return run, network


def _inclusive_iou(a, b):
    width = min(a[2], b[2]) - max(a[0], b[0]) + 1
    height = min(a[3], b[3]) - max(a[1], b[1]) + 1
    inter = max(width, 0) * max(height, 0)
    area = lambda r: (r[2] - r[0] + 1) * (r[3] - r[1] + 1)  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def _expected_metrics(model_path, tmp_path, boxes_per_image):
    """Top-1 Cls, GT-known Loc and MaxBoxAccV2 recomputed here from the
    model's own maps, with the ground truth rescaled from 50x40 files to the
    32 px input; MaxBoxAccV2 by the protocol's reference port on min-max
    normalised maps (the mean over IoU 30, 50, 70 of the best BoxAcc)."""
    from bench.wsol_reference import box_accuracy
    import tensorflow as tf

    from common.data.pipeline import decode_image
    from common.saving import load_model
    from common.wsol_metrics import box_from_map
    from fam.model import maps_model
    model = load_model(model_path)
    paths = sorted((tmp_path / "images" / "a").glob("*.png"), key=lambda p: int(p.stem))
    images = tf.stack([decode_image(str(p), (32, 32)) for p in paths])
    maps = maps_model(model)(images)
    labels = np.arange(4) % 2
    top1 = (maps["probabilities"].numpy().argmax(-1) == labels).mean() * 100
    foreground = tf.image.resize(maps["foreground"], (32, 32))[..., 0].numpy()
    # the protocol truncates the rescaled ground truth to integers
    gts = [np.trunc(np.array(boxes_per_image(i)) * 32 / [50, 40, 50, 40]) for i in range(4)]
    right = [max(_inclusive_iou(box_from_map(score, 0.5), gt) for gt in image_gts) >= 0.5
             for score, image_gts in zip(foreground, gts)]
    clipped = np.clip(foreground, 0, 1)
    low, high = clipped.min(axis=(1, 2), keepdims=True), clipped.max(axis=(1, 2), keepdims=True)
    box_acc = box_accuracy((clipped - low) / (high - low), gts)
    return top1, 100 * np.mean(right), np.mean([max(curve) for curve in box_acc.values()])


def test_openimages_masks_give_pxap_against_the_protocols_computation(tmp_path):
    """localization.txt with id,mask_path,ignore_path: fam.evaluate reports
    PxAP, equal to the reference port on the model's own maps."""
    import tensorflow as tf

    from common.cam import normalize_maps
    from common.data.pipeline import decode_image
    from fam.evaluate import main
    from fam.model import maps_model
    from bench.wsol_reference import pixel_average_precision
    ids = _dataset(tmp_path)
    images = tmp_path / "images"
    lines, masks = [], []
    for i, name in enumerate(ids):
        mask = np.zeros((40, 50), np.uint8)
        mask[10:25, 15:35] = 255
        ignore = np.zeros((40, 50), np.uint8)
        ignore[0:8, 0:8] = 255
        cv2.imwrite(str(images / f"m{i}.png"), mask)
        cv2.imwrite(str(images / f"i{i}.png"), ignore)
        lines.append(f"{name},m{i}.png,i{i}.png")
        masks.append(np.where(ignore > 0, 255, (mask > 0).astype(np.uint8)))
    (tmp_path / "metadata" / "localization.txt").write_text("\n".join(lines) + "\n")
    run, network = _saved_model(tmp_path)
    main(["--model", str(run / "model.keras"), "--data", str(tmp_path / "metadata"),
          "--image-root", str(images), "--out", str(tmp_path / "out"), "--pictures", "1"])
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert "gt_known_loc_pct" not in metrics  # no boxes: no box metrics
    batch = tf.stack([decode_image(str(images / n), (32, 32)) for n in ids])
    foreground = tf.image.resize(maps_model(network)(batch)["foreground"], (32, 32))[..., 0]
    maps = normalize_maps(tf.clip_by_value(foreground, 0, 1)).numpy()
    maps = [cv2.resize(m, (50, 40), interpolation=cv2.INTER_LINEAR) for m in maps]
    assert metrics["pxap_pct"] == pytest.approx(pixel_average_precision(maps, masks), abs=1e-6)


def test_evaluate_cli_metrics_equal_a_direct_computation(tmp_path):
    _dataset(tmp_path)
    run, network = _saved_model(tmp_path)
    main_box = (15, 10, 34, 24)
    cases = ((tmp_path / "test.csv", [], lambda i: [main_box]),
             (tmp_path / "metadata", ["--image-root", str(tmp_path / "images")],
              lambda i: [main_box] + ([(0, 0, 5, 5)] if i == 0 else [])))
    for data, extra, boxes in cases:
        out = tmp_path / f"out-{data.name}"
        done = python_process("-m", "fam.evaluate", "--model", run / "model.keras", "--data",
                              data, "--out", out, "--pictures", "2", *extra, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        metrics = json.loads((out / "metrics.json").read_text())
        top1, gt_known, max_box_acc = _expected_metrics(run / "model.keras", tmp_path, boxes)
        assert metrics["top1_cls_pct"] == pytest.approx(top1)
        assert metrics["gt_known_loc_pct"] == pytest.approx(gt_known)
        assert 0 <= metrics["top1_loc_pct"] <= min(metrics["gt_known_loc_pct"],
                                                   metrics["top1_cls_pct"])
        assert metrics["max_box_acc_v2_pct"] == pytest.approx(max_box_acc)
        assert len(list(out.glob("*.png"))) == 2
