"""WSOL metrics accumulated batch by batch, as the protocol's reference
code accumulates them (Choe et al., CVPR 2020: ``BoxEvaluator`` counts the
right images per CAM threshold, ``MaskEvaluator`` sums score histograms),
so evaluating a test set keeps counts, never every map. Each has
``update(batch ...)`` and ``result()``; the result equals the whole-set
function of ``fam.metrics`` on the same maps.

Example:

```python
boxes = BoxAccuracy()
for maps, gts in batches:
    boxes.update(maps, gts)
boxes.result()["max_box_acc_v2_pct"]
```
"""

import numpy as np

from fam.metrics import (average_precision, best_ious, box_acc_summary, boxes_right,
                         cam_thresholds, pxap_edges, score_histograms)


class BoxAccuracy:
    """BoxAcc per CAM threshold tau and IoU threshold delta, from the counts
    of right images (``fam.metrics.max_box_acc``'s result, MaxBoxAccV2
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
    (``fam.metrics.localization_accuracy``'s result)."""

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
    protocol's thresholds (``fam.metrics.pixel_average_precision``)."""

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
