"""WSOL metrics, following Choe et al., "Evaluating Weakly Supervised Object
Localization Methods Right" (CVPR 2020) and its public code's conventions:
IoU with the inclusive +1 pixel convention; ``uint8(map * 255)`` thresholded
strictly above ``int(tau * max)``; the boxes of OpenCV's contours (x1, y1
clipped to width - 1, height - 1; found without tracing by
``common.component_boxes``); an image is correct when its best IoU over its
ground-truth boxes reaches delta. Also the protocol's boxes from a map at one
threshold (``box_from_map``) and the rescaling of ground-truth boxes.

Here, not in FAM's package, because any classifier's evaluation
(``common.evaluate``) reports them."""

import os
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from common.component_boxes import component_boxes
from common.data.image_header import ImageRefused, check_image


def iou_matrix(boxes_a, boxes_b):
    """(N, M) IoU of pixel boxes ``x0, y0, x1, y1`` (inclusive, +1 convention)."""
    a = np.asarray(boxes_a, np.float64).reshape(-1, 1, 4)
    b = np.asarray(boxes_b, np.float64).reshape(1, -1, 4)
    width = np.maximum(0, np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + 1)
    height = np.maximum(0, np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + 1)
    inter = width * height
    area = lambda r: (r[..., 2] - r[..., 0] + 1) * (r[..., 3] - r[..., 1] + 1)  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def _single_contour_box(binary, width, height):
    contours = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
    if len(contours) == 0:
        return np.zeros((1, 4), np.int64)
    x, y, w, h = cv2.boundingRect(max(contours, key=cv2.contourArea))
    return np.array([[x, y, min(x + w, width - 1), min(y + h, height - 1)]], np.int64)


def _levels(score_map, thresholds):
    """The protocol's uint8 map and its integer level per threshold."""
    image = (np.asarray(score_map) * 255).astype(np.uint8)
    return image, (np.asarray(thresholds, np.float64) * image.max()).astype(np.int64)


def boxes_at_thresholds(score_map, thresholds, multi_contour=True):
    """Per threshold tau, the boxes of the contours of ``uint8(map * 255) >
    int(tau * max)``: all of them (in no particular order), or the largest
    (contour area) only; right and bottom clipped to width - 1, height - 1;
    ``[[0, 0, 0, 0]]`` where nothing is above tau. The protocol's algorithm
    (``bench/wsol_reference.py``, the test reference) with the same boxes; all
    contours' boxes come from ``common.component_boxes`` without tracing."""
    image, levels = _levels(score_map, thresholds)
    height, width = image.shape
    if not multi_contour:
        return [_single_contour_box(cv2.threshold(image, int(level), 255,
                                                  cv2.THRESH_BINARY)[1], width, height)
                for level in levels]
    tiles, boxes = component_boxes(image, levels)
    return [boxes[tiles == k] if (tiles == k).any() else np.zeros((1, 4), np.int64)
            for k in range(len(levels))]


def _best_iou_per_threshold(score_map, gt, thresholds, multi_contour):
    if not multi_contour:
        per_tau = boxes_at_thresholds(score_map, thresholds, multi_contour)
        return iou_matrix(np.concatenate(per_tau), gt).max(axis=1)
    image, levels = _levels(score_map, thresholds)
    tiles, boxes = component_boxes(image, levels)
    best = np.full(len(levels), -1.0)
    np.maximum.at(best, tiles, iou_matrix(boxes, gt).max(axis=1))
    nothing = iou_matrix(np.zeros((1, 4)), gt).max()  # the protocol's box where no pixel passes
    return np.where(best < 0, nothing, best)  # (taus,)


def cam_thresholds(cam_curve_interval):
    """The protocol's CAM thresholds tau: ``arange(0, 1, interval)``."""
    return np.arange(0, 1, cam_curve_interval)


def best_ious(score_maps, gt_boxes, thresholds, multi_contour=True, workers=None):
    """(N, taus): per map and CAM threshold, the best IoU of its boxes with
    the image's ground-truth boxes; ``workers`` threads over the maps
    (the box search releases the GIL), default the number of cores."""
    workers = workers or os.cpu_count() or 1
    with ThreadPoolExecutor(workers) as pool:
        best = list(pool.map(lambda pair: _best_iou_per_threshold(
            pair[0], pair[1], thresholds, multi_contour), zip(score_maps, gt_boxes)))
    return np.stack(best) if best else np.zeros((0, len(thresholds)))


def box_acc_summary(correct, total, thresholds):
    """``max_box_acc``'s result from the counts of right images per IoU
    threshold delta and CAM threshold (``correct``: delta -> (taus,))."""
    box_acc = {delta: (100.0 * np.asarray(hits) / max(total, 1)).tolist()
               for delta, hits in correct.items()}
    peak = {delta: float(max(acc)) for delta, acc in box_acc.items()}
    return {"thresholds": np.asarray(thresholds).tolist(), "box_acc_pct": box_acc,
            "max_box_acc_pct": peak, "max_box_acc_v2_pct": float(np.mean(list(peak.values())))}


def max_box_acc(score_maps, gt_boxes, iou_thresholds=(30, 50, 70), cam_curve_interval=0.01,
                multi_contour=True, workers=None):
    """BoxAcc over the CAM thresholds tau for each IoU threshold delta.

    Args:
        score_maps: (N, H, W) floats in [0, 1] at image resolution.
        gt_boxes: per image, an array (G, 4) of pixel ``x0, y0, x1, y1``
            (rescaled as the protocol does:
            ``common.wsol_accumulators.scaled_boxes``).
        workers: threads over the maps (the box search releases the GIL);
            default the number of cores.
    Returns:
        ``{"thresholds": taus, "box_acc_pct": {delta: [BoxAcc per tau] (%)},
        "max_box_acc_pct": {delta: max over tau}, "max_box_acc_v2_pct": mean
        of those}``. ``multi_contour=False, iou_thresholds=(50,)`` is the
        original MaxBoxAcc. ``common.wsol_accumulators.BoxAccuracy`` counts the
        same batch by batch.
    """
    thresholds = cam_thresholds(cam_curve_interval)
    best = best_ious(score_maps, gt_boxes, thresholds, multi_contour, workers)
    correct = {delta: (best >= delta / 100.0).sum(axis=0) for delta in iou_thresholds}
    return box_acc_summary(correct, len(best), thresholds)


def pxap_edges(cam_curve_interval=0.001):
    """The protocol's histogram bin edges of PxAP: the thresholds, then 1, 2, 3."""
    return np.append(cam_thresholds(cam_curve_interval), [1.0, 2.0, 3.0])


def score_histograms(score_maps, masks, edges):
    """(foreground, background) histograms of the scores over ``edges``;
    pixels marked 255 (ignored) are in neither."""
    true_hist = np.zeros(len(edges) - 1)
    false_hist = np.zeros(len(edges) - 1)
    for score_map, mask in zip(score_maps, masks):
        score_map, mask = np.asarray(score_map), np.asarray(mask)
        true_hist += np.histogram(score_map[mask == 1], bins=edges)[0]
        false_hist += np.histogram(score_map[mask == 0], bins=edges)[0]
    return true_hist, false_hist


def average_precision(true_hist, false_hist):
    """PxAP (%) from the score histograms: ``sum precision * delta recall``
    over the thresholds, from the highest down."""
    if true_hist.sum() == 0:
        raise ValueError("PxAP: no foreground pixel in the masks")
    tp, fp = true_hist[::-1].cumsum(), false_hist[::-1].cumsum()
    predicted = tp + fp
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = tp / true_hist.sum()
    return float(100.0 * (precision[1:] * np.diff(recall))[predicted[1:] > 0].sum())


def pixel_average_precision(score_maps, masks, cam_curve_interval=0.001):
    """PxAP (%), the protocol's pixel-level metric: precision and recall of
    the pixels above each threshold tau against the masks, summed as
    ``sum precision * delta recall``. ``masks``: per map, 1 foreground, 0
    background, 255 ignored (``read_mask``). Scores are binned at the
    thresholds as the protocol does, so the value is that of its
    histogram (within the discretisation of average precision);
    ``common.wsol_accumulators.PixelPrecision`` sums the same histograms batch by
    batch."""
    return average_precision(*score_histograms(score_maps, masks,
                                               pxap_edges(cam_curve_interval)))


def _read_grey(path, what):
    """A mask PNG from a dataset's files, checked from its header before
    any decoder runs (``check_image``: another format, a header cut short
    or a decompression bomb is refused in one line)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} '{path}': missing file")
    try:
        check_image(path)
    except ImageRefused as refused:
        raise ValueError(f"{what} '{path}': {refused.reason}") from None
    image = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise ValueError(f"{what} '{path}': corrupt or not an image")
    return image


def read_mask(mask_paths, ignore_path=None):
    """The protocol's ground-truth mask of one image: the union of its
    instance masks (grey PNGs, > 0.5 is foreground) as 1, the ignore box
    region minus the foreground as 255 (left out of PxAP), else 0."""
    masks = [_read_grey(path, "mask") > 0.5 for path in mask_paths]
    foreground = np.stack(masks).any(axis=0)
    result = foreground.astype(np.uint8)
    if ignore_path:
        ignore = _read_grey(ignore_path, "ignore mask")
        result[(ignore > 0.5) & ~foreground] = 255
    return result


def boxes_right(pred_boxes, gt_boxes, iou=0.5):
    """(N,) bool: the best IoU of each predicted box over its image's
    ground-truth boxes reaches ``iou``."""
    return np.array([iou_matrix([p], g).max() >= iou for p, g in zip(pred_boxes, gt_boxes)],
                    bool)


def localization_accuracy(pred_boxes, gt_boxes, pred_classes, labels, iou=0.5):
    """GT-known Loc (box right), Top-1 Loc (class and box right) and Top-1
    Cls (class right), in %, as FAM's Table 1 reports them. A box is right
    when its best IoU over the image's ground-truth boxes is at least ``iou``."""
    box_right = boxes_right(pred_boxes, gt_boxes, iou)
    class_right = np.asarray(pred_classes) == np.asarray(labels)
    return {"gt_known_loc_pct": 100.0 * box_right.mean(),
            "top1_loc_pct": 100.0 * (box_right & class_right).mean(),
            "top1_cls_pct": 100.0 * class_right.mean()}


def box_from_map(score_map, threshold=0.5, image_size=None):
    """``(x0, y0, x1, y1)`` ints, inclusive pixel corners, of the largest
    8-connected region of pixels strictly above ``threshold``;
    ``(0, 0, 0, 0)`` when no pixel passes.

    score_map: (H, W) float in [0, 1]. With ``image_size`` (H, W) the map is
    first upsampled bilinearly to the image.
    """
    if image_size is not None:
        height, width = image_size
        score_map = cv2.resize(np.asarray(score_map, np.float32), (width, height),
                               interpolation=cv2.INTER_LINEAR)
    mask = (np.asarray(score_map) > threshold).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return (0, 0, 0, 0)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, w, h = (int(v) for v in stats[largest, :4])
    return (x, y, x + w - 1, y + h - 1)
