"""The WSOL protocol's metrics (Choe et al., CVPR 2020), kept under this
name for existing code: they live in ``common.wsol_metrics`` since any
classifier's evaluation (``common.evaluate``) reports them and ``common``
imports no method package."""

from common.wsol_metrics import (
    average_precision, best_ious, box_acc_summary, box_from_map, boxes_at_thresholds,
    boxes_right, cam_thresholds, iou_matrix, localization_accuracy, max_box_acc,
    pixel_average_precision, pxap_edges, read_mask, score_histograms)

__all__ = ["average_precision", "best_ious", "box_acc_summary", "box_from_map",
           "boxes_at_thresholds", "boxes_right", "cam_thresholds", "iou_matrix",
           "localization_accuracy", "max_box_acc", "pixel_average_precision", "pxap_edges",
           "read_mask", "score_histograms"]
