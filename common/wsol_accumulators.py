"""WSOL metrics accumulated batch by batch, as the protocol's reference
code accumulates them (Choe et al., CVPR 2020: ``BoxEvaluator`` counts the
right images per CAM threshold, ``MaskEvaluator`` sums score histograms),
so evaluating a test set keeps counts, never every map. Each has
``update(batch ...)`` and ``result()``; the result equals the whole-set
function of ``common.wsol_metrics`` on the same maps. ``LocalizationMetrics``
bundles them for a table's batches (boxes rescaled as the protocol does,
masks read from their files).

Example:

```python
boxes = BoxAccuracy()
for maps, gts in batches:
    boxes.update(maps, gts)
boxes.result()["max_box_acc_v2_pct"]
```
"""

import cv2
import numpy as np

from common.data.image_header import file_size
from common.wsol_metrics import (average_precision, best_ious, box_acc_summary, box_from_map,
                                 boxes_right, cam_thresholds, pxap_edges, read_mask,
                                 score_histograms)


class BoxAccuracy:
    """BoxAcc per CAM threshold tau and IoU threshold delta, from the counts
    of right images (``common.wsol_metrics.max_box_acc``'s result, MaxBoxAccV2
    included)."""

    def __init__(self, iou_thresholds=(30, 50, 70), cam_curve_interval=0.01,
                 multi_contour=True, workers=None):
        self.thresholds = cam_thresholds(cam_curve_interval)
        self.multi_contour, self.workers = multi_contour, workers
        self.correct = {delta: np.zeros(len(self.thresholds), np.int64)
                        for delta in iou_thresholds}
        self.count = 0

    def update(self, score_maps, gt_boxes):
        """score_maps: (B, H, W) in [0, 1]; gt_boxes: per map, (G, 4) pixels."""
        best = best_ious(score_maps, gt_boxes, self.thresholds, self.multi_contour,
                         self.workers)
        for delta, hits in self.correct.items():
            hits += (best >= delta / 100.0).sum(axis=0)
        self.count += len(best)

    def result(self):
        return box_acc_summary(self.correct, self.count, self.thresholds)


class LocalizationCounts:
    """GT-known Loc, Top-1 Loc and Top-1 Cls (%) from counts
    (``common.wsol_metrics.localization_accuracy``'s result)."""

    def __init__(self, iou=0.5):
        self.iou = iou
        self.box_right = self.both_right = self.class_right = self.count = 0

    def update(self, pred_boxes, gt_boxes, pred_classes, labels):
        box = boxes_right(pred_boxes, gt_boxes, self.iou)
        cls = np.asarray(pred_classes) == np.asarray(labels)
        self.box_right += int(box.sum())
        self.both_right += int((box & cls).sum())
        self.class_right += int(cls.sum())
        self.count += len(cls)

    def result(self):
        total = max(self.count, 1)
        return {"gt_known_loc_pct": 100.0 * (self.box_right / total),
                "top1_loc_pct": 100.0 * (self.both_right / total),
                "top1_cls_pct": 100.0 * (self.class_right / total)}


class PixelPrecision:
    """PxAP (%) from the foreground and background score histograms at the
    protocol's thresholds (``common.wsol_metrics.pixel_average_precision``)."""

    def __init__(self, cam_curve_interval=0.001):
        self.edges = pxap_edges(cam_curve_interval)
        self.true_hist = np.zeros(len(self.edges) - 1)
        self.false_hist = np.zeros(len(self.edges) - 1)

    def update(self, score_maps, masks):
        """masks: per map, 1 foreground, 0 background, 255 ignored."""
        true_hist, false_hist = score_histograms(score_maps, masks, self.edges)
        self.true_hist += true_hist
        self.false_hist += false_hist

    def result(self):
        return average_precision(self.true_hist, self.false_hist)


def _normalised(maps):
    """Per-map min-max normalisation to [0, 1] (``common.cam.normalize_maps``
    in NumPy); a constant map becomes zeros."""
    low = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - low
    return np.where(span > 0, (maps - low) / np.where(span > 0, span, 1), 0).astype(np.float32)


def scaled_boxes(table, image_size):
    """Ground-truth boxes per image, rescaled from the file's pixel size to
    the square model input and truncated to integers, as the protocol's
    ``resize_bbox`` does (``int(x * new_width / width)``)."""
    boxes = []
    for path, image_boxes in zip(table["path"], table["boxes"]):
        height, width = file_size(path)
        box = np.asarray(image_boxes, np.float64).reshape(-1, 4)
        sizes = np.array([width, height] * 2, np.float64)
        boxes.append(np.trunc(box * float(image_size) / sizes).astype(np.int64))
    return boxes


def masks_and_maps(table, maps):
    """The table's ground-truth masks (``read_mask``) and the maps resized
    to each mask's size, bilinearly, for PxAP."""
    masks, resized = [], []
    for mask_paths, ignore, score_map in zip(table["masks"], table["ignore"], maps):
        mask = read_mask(mask_paths, ignore or None)
        masks.append(mask)
        resized.append(cv2.resize(np.asarray(score_map, np.float32), mask.shape[::-1],
                                  interpolation=cv2.INTER_LINEAR))
    return resized, masks


def has_boxes_and_masks(table):
    """(every image has a box, every image has a mask): which WSOL metrics apply."""
    has_boxes = bool(len(table)) and bool(table["boxes"].map(len).gt(0).all())
    has_masks = "masks" in table and bool(len(table)) and bool(
        table["masks"].map(len).gt(0).all())
    return has_boxes, has_masks


class LocalizationMetrics:
    """The WSOL protocol's metrics of one kind of map over a table's batches:
    GT-known Loc, Top-1 Loc and Top-1 Cls (boxes from the maps at
    ``threshold``), MaxBoxAccV2 (min-max normalised maps) where the images
    have boxes, PxAP where they have masks; all in %.

    ``update(maps, rows, image_size, predicted, labels)``: maps (B, H, W) in
    [0, 1] at input resolution (of the true class, as the protocol
    explains it), ``rows`` the table's rows of the batch. Returns the
    predicted boxes and the rescaled ground truth (for pictures).
    """

    def __init__(self, has_boxes, has_masks, threshold=0.5):
        self.has_boxes, self.has_masks, self.threshold = has_boxes, has_masks, threshold
        self.counts, self.box_acc, self.pixels = (LocalizationCounts(), BoxAccuracy(),
                                                  PixelPrecision())
        self.class_right = self.count = 0

    def update(self, maps, rows, image_size, predicted, labels):
        maps = np.clip(np.asarray(maps, np.float32), 0.0, 1.0)
        boxes = [box_from_map(m, self.threshold) for m in maps]
        gts = (scaled_boxes(rows, image_size) if self.has_boxes
               else [np.zeros((0, 4), np.int64)] * len(rows))
        normalised = _normalised(maps)
        if self.has_boxes:
            self.counts.update(boxes, gts, predicted, labels)
            self.box_acc.update(normalised, gts)
        if self.has_masks:
            self.pixels.update(*masks_and_maps(rows, normalised))
        self.class_right += int((np.asarray(predicted) == np.asarray(labels)).sum())
        self.count += len(maps)
        return boxes, gts

    def counts_vector(self):
        """Every count as one int64 vector, to sum over workers
        (``Shard.sum``): the results of summed counts equal one process's."""
        return np.concatenate([
            [self.counts.box_right, self.counts.both_right, self.counts.class_right,
             self.counts.count, self.box_acc.count, self.class_right, self.count],
            *self.box_acc.correct.values(), self.pixels.true_hist, self.pixels.false_hist,
        ]).astype(np.int64)

    def load_counts(self, vector):
        """Sets every count from a ``counts_vector`` (e.g. the workers' sum)."""
        vector = np.asarray(vector, np.int64)
        (self.counts.box_right, self.counts.both_right, self.counts.class_right,
         self.counts.count, self.box_acc.count, self.class_right,
         self.count) = (int(v) for v in vector[:7])
        start = 7
        for hits in self.box_acc.correct.values():
            hits[:] = vector[start:start + len(hits)]
            start += len(hits)
        for hist in (self.pixels.true_hist, self.pixels.false_hist):
            hist[:] = vector[start:start + len(hist)]
            start += len(hist)

    def result(self):
        if self.has_boxes:
            result = self.counts.result()
            result["max_box_acc_v2_pct"] = self.box_acc.result()["max_box_acc_v2_pct"]
        else:  # masks only (OpenImages): no box metrics
            result = {"top1_cls_pct": 100.0 * self.class_right / max(self.count, 1)}
        if self.has_masks:
            result["pxap_pct"] = self.pixels.result()
        return result
