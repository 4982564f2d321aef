"""WSOL metrics, following Choe et al., "Evaluating Weakly Supervised Object
Localization Methods Right" (CVPR 2020) and its public code's conventions:
IoU with the inclusive +1 pixel convention; ``uint8(map * 255)`` thresholded
strictly above ``int(tau * max)``; boxes from OpenCV contours (x1, y1 clipped
to width - 1, height - 1); an image is correct when its best IoU over its
ground-truth boxes reaches delta."""

import cv2
import numpy as np


def iou_matrix(boxes_a, boxes_b):
    """(N, M) IoU of pixel boxes ``x0, y0, x1, y1`` (inclusive, +1 convention)."""
    a = np.asarray(boxes_a, np.float64).reshape(-1, 1, 4)
    b = np.asarray(boxes_b, np.float64).reshape(1, -1, 4)
    width = np.maximum(0, np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + 1)
    height = np.maximum(0, np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + 1)
    inter = width * height
    area = lambda r: (r[..., 2] - r[..., 0] + 1) * (r[..., 3] - r[..., 1] + 1)  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def boxes_at_thresholds(score_map, thresholds, multi_contour=True):
    """Per threshold tau, the boxes of the contours of ``uint8(map * 255) >
    int(tau * max)``: all of them, or the largest (contour area) only."""
    image = (np.asarray(score_map) * 255).astype(np.uint8)
    height, width = image.shape
    peak = image.max()
    result = []
    for tau in thresholds:
        _, binary = cv2.threshold(image, int(tau * peak), 255, cv2.THRESH_BINARY)
        contours = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
        if len(contours) == 0:
            result.append(np.zeros((1, 4), np.int64))
            continue
        if not multi_contour:
            contours = [max(contours, key=cv2.contourArea)]
        boxes = []
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            boxes.append([x, y, min(x + w, width - 1), min(y + h, height - 1)])
        result.append(np.array(boxes, np.int64))
    return result


def max_box_acc(score_maps, gt_boxes, iou_thresholds=(30, 50, 70), cam_curve_interval=0.01,
                multi_contour=True):
    """BoxAcc over the CAM thresholds tau for each IoU threshold delta.

    Args:
        score_maps: (N, H, W) floats in [0, 1] at image resolution.
        gt_boxes: per image, an array (G, 4) of pixel ``x0, y0, x1, y1``.
    Returns:
        ``{"thresholds": taus, "box_acc": {delta: [BoxAcc per tau] (%)},
        "max_box_acc": {delta: max over tau}, "max_box_acc_v2": mean of
        those}``. ``multi_contour=False, iou_thresholds=(50,)`` is the
        original MaxBoxAcc.
    """
    thresholds = np.arange(0, 1, cam_curve_interval)
    correct = {delta: np.zeros(len(thresholds)) for delta in iou_thresholds}
    for score_map, gt in zip(score_maps, gt_boxes):
        per_tau = boxes_at_thresholds(score_map, thresholds, multi_contour)
        counts = [len(b) for b in per_tau]
        ious = iou_matrix(np.concatenate(per_tau), gt).max(axis=1)
        best = np.maximum.reduceat(ious, np.cumsum([0] + counts[:-1]))  # (taus,)
        for delta in iou_thresholds:
            correct[delta] += best >= delta / 100.0
    total = max(len(score_maps), 1)
    box_acc = {delta: (100.0 * correct[delta] / total).tolist() for delta in iou_thresholds}
    best = {delta: float(max(acc)) for delta, acc in box_acc.items()}
    return {"thresholds": thresholds.tolist(), "box_acc": box_acc, "max_box_acc": best,
            "max_box_acc_v2": float(np.mean(list(best.values())))}


def localization_accuracy(pred_boxes, gt_boxes, pred_classes, labels, iou=0.5):
    """GT-known Loc (box right), Top-1 Loc (class and box right) and Top-1
    Cls (class right), in %, as FAM's Table 1 reports them. A box is right
    when its best IoU over the image's ground-truth boxes is at least ``iou``."""
    box_right = np.array([iou_matrix([p], g).max() >= iou for p, g in zip(pred_boxes, gt_boxes)])
    class_right = np.asarray(pred_classes) == np.asarray(labels)
    return {"gt_known_loc": 100.0 * box_right.mean(), "top1_loc": 100.0 * (box_right &
                                                                         class_right).mean(),
            "top1_cls": 100.0 * class_right.mean()}
