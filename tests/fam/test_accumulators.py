"""Accumulated WSOL metrics over batches of several sizes against the
whole-set functions of common.wsol_metrics and the protocol's reference port."""

import numpy as np
import pytest

from common.wsol_accumulators import BoxAccuracy, LocalizationCounts, PixelPrecision
from common.wsol_metrics import localization_accuracy, max_box_acc, pixel_average_precision
from bench.wsol_reference import box_accuracy
from bench.wsol_reference import pixel_average_precision as reference_pxap


def _batches(count, size):
    return [slice(start, start + size) for start in range(0, count, size)]


def test_box_accuracy_counts_equal_the_whole_set_and_the_reference():
    from bench.wsol_metrics import map_mix
    maps, gts = map_mix(17, 48, seed=5)
    for multi in (True, False):
        whole = max_box_acc(maps, gts, multi_contour=multi)
        for size in (1, 4, 17):
            accumulator = BoxAccuracy(multi_contour=multi)
            for rows in _batches(len(maps), size):
                accumulator.update(maps[rows], gts[rows])
            assert accumulator.result() == whole  # exact, MaxBoxAccV2 included
        assert whole["box_acc_pct"] == box_accuracy(maps, gts, multi_contour_eval=multi)
    assert 0 < whole["max_box_acc_v2_pct"] < 100


def test_localization_counts_equal_localization_accuracy():
    rng = np.random.default_rng(2)
    preds = [tuple(int(v) for v in np.array([5, 5, 20, 20]) + rng.integers(-6, 7, 4))
             for _ in range(23)]  # jittered around the main box: some right, some not
    gts = [np.array([[5, 5, 20, 20]] + ([[0, 0, 9, 9]] if i % 3 == 0 else []))
           for i in range(23)]
    pred_classes, labels = rng.integers(0, 3, 23), rng.integers(0, 3, 23)
    whole = localization_accuracy(preds, gts, pred_classes, labels)
    for size in (1, 5, 23):
        counts = LocalizationCounts()
        for rows in _batches(23, size):
            counts.update(preds[rows], gts[rows], pred_classes[rows], labels[rows])
        assert counts.result() == whole
    assert 0 < whole["gt_known_loc_pct"] < 100 and 0 < whole["top1_cls_pct"] < 100


def test_pixel_precision_from_histograms_equals_the_exact_computation():
    rng = np.random.default_rng(4)
    masks = [(rng.random((24, 30)) < 0.35).astype(np.uint8) for _ in range(9)]
    masks[1][:3] = 255  # ignored pixels
    maps = [np.clip(0.6 * np.minimum(m, 1) + rng.normal(0.2, 0.25, m.shape), 0, 1)
            for m in masks]
    whole = pixel_average_precision(maps, masks)
    for size in (1, 2, 9):
        accumulator = PixelPrecision()
        for rows in _batches(9, size):
            accumulator.update(maps[rows], masks[rows])
        assert accumulator.result() == pytest.approx(whole, abs=1e-9)
    assert whole == pytest.approx(reference_pxap(maps, masks), abs=1e-9)
    assert 50 < whole < 100
