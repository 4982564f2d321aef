"""Box extraction and WSOL metrics against NumPy and hand-made maps."""

import numpy as np
import pytest

from common.wsol_metrics import (box_from_map, boxes_at_thresholds, iou_matrix,
                                 localization_accuracy, max_box_acc)


def _gaussian(shape, centre, sigma):
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    return np.exp(-((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) / (2 * sigma ** 2))


def test_box_from_map_cases():
    blank = np.zeros((20, 30))
    assert box_from_map(blank) == (0, 0, 0, 0)
    one = blank.copy()
    one[5:9, 10:16] = 0.9
    assert box_from_map(one) == (10, 5, 15, 8)
    two = one.copy()
    two[12:20, 0:30] = 0.7  # larger, touching the left, right and bottom borders
    assert box_from_map(two) == (0, 12, 29, 19)
    assert box_from_map(two, threshold=0.8) == (10, 5, 15, 8)
    assert box_from_map(np.full((4, 4), 0.5)) == (0, 0, 0, 0)  # strictly above
    small = np.zeros((4, 4))
    small[1:3, 1:3] = 1.0
    x0, y0, x1, y1 = box_from_map(small, 0.5, image_size=(40, 40))
    assert 5 <= x0 <= 12 and 27 <= x1 <= 34 and (x0, x1) == (y0, y1)


def test_iou_uses_the_inclusive_pixel_convention():
    assert iou_matrix([[0, 0, 9, 9]], [[0, 0, 9, 9]])[0, 0] == 1.0
    # 10x10 and 10x5 boxes sharing 10x5 pixels.
    assert iou_matrix([[0, 0, 9, 9]], [[0, 0, 9, 4]])[0, 0] == pytest.approx(0.5)
    assert iou_matrix([[0, 0, 4, 4]], [[5, 5, 9, 9]])[0, 0] == 0.0
    got = iou_matrix([[0, 0, 9, 9], [2, 2, 5, 5]], [[0, 0, 4, 4], [2, 2, 5, 5], [50, 50, 60, 60]])
    assert got.shape == (2, 3) and got[1, 1] == 1.0 and got[0, 0] == pytest.approx(25 / 100)


def _reference_single_blob_boxes(score_map, thresholds):
    """Pixel bounding box of uint8(map*255) > int(tau*max), x1 = last + 1
    clipped (the public code's cv2.boundingRect convention)."""
    image = (score_map * 255).astype(np.uint8)
    h, w = image.shape
    out = []
    for tau in thresholds:
        ys, xs = np.nonzero(image > int(tau * image.max()))
        if len(ys) == 0:
            out.append([0, 0, 0, 0])
        else:
            out.append([xs.min(), ys.min(), min(xs.max() + 1, w - 1), min(ys.max() + 1, h - 1)])
    return np.array(out)


def test_boxes_at_thresholds_match_numpy_for_one_blob():
    score_map = _gaussian((60, 80), (25, 40), 9.0)
    thresholds = np.arange(0, 1, 0.05)
    got = boxes_at_thresholds(score_map, thresholds, multi_contour=False)
    np.testing.assert_array_equal(np.concatenate(got),
                                  _reference_single_blob_boxes(score_map, thresholds))


def test_max_box_acc_against_numpy_on_gaussian_blobs():
    rng = np.random.default_rng(0)
    maps, gts = [], []
    for _ in range(12):
        centre = rng.integers(15, 45, 2)
        sigma = rng.uniform(4, 10)
        maps.append(_gaussian((60, 60), centre, sigma))
        r = rng.integers(5, 15)
        gts.append(np.array([[centre[1] - r, centre[0] - r, centre[1] + r, centre[0] + r]]))
    thresholds = np.arange(0, 1, 0.1)
    expected = {}
    for delta in (30, 50, 70):
        hits = np.zeros(len(thresholds))
        for m, g in zip(maps, gts):
            boxes = _reference_single_blob_boxes(m, thresholds)
            hits += iou_matrix(boxes, g)[:, 0] >= delta / 100
        expected[delta] = 100 * hits / len(maps)
    result = max_box_acc(maps, gts, cam_curve_interval=0.1)
    for delta in (30, 50, 70):
        np.testing.assert_allclose(result["box_acc_pct"][delta], expected[delta])
        assert result["max_box_acc_pct"][delta] == pytest.approx(expected[delta].max())
    assert result["max_box_acc_v2_pct"] == pytest.approx(np.mean([expected[d].max()
                                                              for d in (30, 50, 70)]))


def test_two_blobs_multi_contour_and_several_gt_boxes():
    score_map = np.zeros((40, 40))
    score_map[2:10, 2:10] = 1.0     # blob A, the peak
    score_map[20:36, 20:36] = 0.6   # blob B, larger, weaker
    gt_b = np.array([[20, 20, 36, 36]])  # B's box in the code's x+w convention
    single = max_box_acc([score_map], [gt_b], (50,), 0.1, multi_contour=False)
    multi = max_box_acc([score_map], [gt_b], (50,), 0.1, multi_contour=True)
    # Below tau 0.6 both blobs pass: the largest contour is B (right); from
    # 0.6 on only A passes (wrong). With every contour, B also counts there.
    assert single["box_acc_pct"][50] == [100.0] * 6 + [0.0] * 4
    assert multi["box_acc_pct"][50] == single["box_acc_pct"][50]
    both = np.array([[0, 0, 5, 5], [2, 2, 10, 10]])  # A's box among several GT boxes
    assert max_box_acc([score_map], [both], (50,), 0.1)["box_acc_pct"][50][-1] == 100.0
    empty = max_box_acc([np.zeros((40, 40))], [gt_b], (50,), 0.5)
    assert empty["max_box_acc_pct"][50] == 0.0


def test_localization_accuracy():
    preds = [(0, 0, 9, 9), (0, 0, 9, 9), (50, 50, 60, 60), (0, 0, 0, 0)]
    gts = [np.array([[0, 0, 9, 9]]), np.array([[0, 0, 9, 4], [0, 0, 8, 9]]),
           np.array([[0, 0, 9, 9]]), np.array([[0, 0, 9, 9]])]
    result = localization_accuracy(preds, gts, [1, 2, 3, 4], [1, 0, 3, 4])
    assert result == {"gt_known_loc_pct": 50.0, "top1_loc_pct": 25.0, "top1_cls_pct": 75.0}


def test_box_accuracy_is_the_protocols_at_every_threshold_on_maps_with_many_contours():
    from bench.wsol_metrics import map_mix
    from bench.wsol_reference import box_accuracy
    maps, gts = map_mix(18, 64, seed=3)
    for multi in (True, False):
        got = max_box_acc(maps, gts, cam_curve_interval=0.01, multi_contour=multi)
        assert got["box_acc_pct"] == box_accuracy(maps, gts, cam_curve_interval=0.01,
                                                  multi_contour_eval=multi)
    assert 0 < got["max_box_acc_v2_pct"] < 100  # the mix is neither trivial nor hopeless


def test_box_accuracy_is_the_protocols_with_empty_levels_holes_and_a_box_at_the_origin():
    """The cases the one-pass tracing handles apart: levels where nothing is
    above tau (the protocol's [0, 0, 0, 0] box, right for a 1x2 box at the
    origin), a ring whose hole is the best box, blobs touching the edges,
    checkerboard pixels (8-connected foreground, 4-connected holes), and a
    map whose buffer shape differs from the previous one's."""
    from bench.wsol_reference import box_accuracy
    ring = np.zeros((30, 40))
    ring[5:25, 5:35] = 1.0
    ring[9:21, 9:31] = 0.0
    ring[12:18, 15:25] = 0.5  # an island in the hole, dimmer
    peak = np.zeros((30, 40))
    peak[0, 0], peak[29, 39] = 1.0, 0.3
    checker = np.indices((30, 40)).sum(axis=0) % 2 * 0.8
    checker[10:20, 10:20] = 1.0
    edges = np.zeros((30, 40))
    edges[:, :3], edges[-4:, :] = 0.9, 0.6
    maps = [ring, peak, checker, edges, np.zeros((30, 40)), np.zeros((20, 20))]
    gts = [np.array([[8, 8, 31, 21]]), np.array([[0, 0, 0, 1]]),
           np.array([[10, 10, 19, 19], [0, 0, 39, 29]]), np.array([[0, 0, 2, 26]]),
           np.array([[0, 0, 0, 1]]), np.array([[0, 0, 1, 0]])]
    got = max_box_acc(maps, gts, cam_curve_interval=0.05)["box_acc_pct"]
    assert got == box_accuracy(maps, gts, cam_curve_interval=0.05)
    # the empty maps score with the [0, 0, 0, 0] box (IoU 0.5); the left
    # strip is right only once the bottom one (0.6 of 0.9) drops out
    assert min(got[30]) > 0 and got[70] == [100 * 2 / 6] * 14 + [100 * 3 / 6] * 6


def test_ground_truth_boxes_are_rescaled_and_truncated_as_the_protocol_does(tmp_path):
    import cv2
    import pandas as pd

    from common.wsol_accumulators import scaled_boxes
    from bench.wsol_reference import resize_bbox
    rng = np.random.default_rng(0)
    paths, boxes = [], []
    for i, (w, h) in enumerate([(37, 53), (500, 333), (91, 91)]):
        paths.append(str(tmp_path / f"{i}.png"))
        cv2.imwrite(paths[-1], np.zeros((h, w, 3), np.uint8))
        x0, y0 = rng.uniform(0, w / 2), rng.uniform(0, h / 2)
        boxes.append(((x0, y0, x0 + w / 3, y0 + h / 3), (1.0, 2.0, w - 1.0, h - 1.0)))
    got = scaled_boxes(pd.DataFrame({"path": paths, "boxes": boxes}), 224)
    for image_boxes, (w, h), result in zip(boxes, [(37, 53), (500, 333), (91, 91)], got):
        expected = [resize_bbox(b, (w, h), (224, 224)) for b in image_boxes]
        assert result.tolist() == [list(e) for e in expected]


def test_pixel_average_precision_analytic_cases_and_against_scikit_learn(tmp_path):
    import cv2
    from sklearn.metrics import average_precision_score

    from common.wsol_metrics import pixel_average_precision, read_mask
    from bench.wsol_reference import pixel_average_precision as reference
    rng = np.random.default_rng(1)
    masks = [(rng.random((20, 30)) < 0.3).astype(np.uint8) for _ in range(3)]
    masks[0][:2] = 255  # ignored pixels
    assert pixel_average_precision([m.astype(float) for m in masks], masks) == \
        pytest.approx(100.0)  # the mask itself: perfect
    fraction = np.mean(np.concatenate([m[m != 255] for m in masks]))
    flat = [np.full(m.shape, 0.5) for m in masks]
    assert pixel_average_precision(flat, masks) == pytest.approx(100 * fraction)
    # Scores in the middle of the threshold bins: scikit-learn's AP over
    # the kept pixels is then exactly the protocol's.
    maps = [np.floor(np.clip(m + rng.normal(0, 0.4, m.shape), 0, 0.999) * 100) / 100 + 0.005
            for m in (np.minimum(m, 1).astype(float) for m in masks)]
    keep = np.concatenate([m.ravel() != 255 for m in masks])
    scores, truth = np.concatenate([m.ravel() for m in maps]), np.concatenate(
        [m.ravel() for m in masks])
    expected = 100 * average_precision_score(truth[keep], scores[keep])
    assert pixel_average_precision(maps, masks, 0.01) == pytest.approx(expected, abs=1e-6)
    assert pixel_average_precision(maps, masks, 0.01) == pytest.approx(
        reference(maps, masks, 0.01), abs=1e-9)
    # The protocol's mask files: instance masks united, ignore box minus them.
    a, b, ignore = (np.zeros((6, 6), np.uint8) for _ in range(3))
    a[1, 1], b[4, 4], ignore[0:3, 0:3] = 255, 255, 255
    for name, image in (("a", a), ("b", b), ("ignore", ignore)):
        cv2.imwrite(str(tmp_path / f"{name}.png"), image)
    mask = read_mask([str(tmp_path / "a.png"), str(tmp_path / "b.png")],
                     str(tmp_path / "ignore.png"))
    assert mask[1, 1] == 1 and mask[4, 4] == 1 and mask[0, 0] == 255 and mask[5, 5] == 0
    assert (mask == 255).sum() == 8
