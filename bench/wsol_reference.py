"""A line-by-line port of the WSOL protocol's reference code (Choe et al.,
CVPR 2020, clovaai/wsolevaluation ``evaluation.py``: ``resize_bbox``,
``compute_bboxes_from_scoremaps``, ``BoxEvaluator``, ``MaskEvaluator``),
kept as the slow reference that ``common.wsol_metrics`` is tested (tests/fam)
and benchmarked (bench/wsol_metrics.py) against; not part of the installed
toolkit."""

import cv2
import numpy as np


def resize_bbox(box, image_size, resize_size):
    """Rescales ``x0, y0, x1, y1`` from (width, height) ``image_size`` to
    ``resize_size`` and truncates to integers, as the protocol does."""
    box_x0, box_y0, box_x1, box_y1 = map(float, box)
    image_w, image_h = map(float, image_size)
    new_image_w, new_image_h = map(float, resize_size)
    return (int(box_x0 * new_image_w / image_w), int(box_y0 * new_image_h / image_h),
            int(box_x1 * new_image_w / image_w), int(box_y1 * new_image_h / image_h))


def compute_bboxes_from_scoremaps(scoremap, scoremap_threshold_list, multi_contour_eval):
    height, width = scoremap.shape
    scoremap_image = np.expand_dims((scoremap * 255).astype(np.uint8), 2)

    def scoremap2bbox(threshold):
        _, thr_gray_heatmap = cv2.threshold(src=scoremap_image,
                                            thresh=int(threshold * np.max(scoremap_image)),
                                            maxval=255, type=cv2.THRESH_BINARY)
        contours = cv2.findContours(image=thr_gray_heatmap, mode=cv2.RETR_TREE,
                                    method=cv2.CHAIN_APPROX_SIMPLE)[0]
        if len(contours) == 0:
            return np.asarray([[0, 0, 0, 0]]), 1
        if not multi_contour_eval:
            contours = [max(contours, key=cv2.contourArea)]
        estimated_boxes = []
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            x0, y0, x1, y1 = x, y, x + w, y + h
            x1 = min(x1, width - 1)
            y1 = min(y1, height - 1)
            estimated_boxes.append([x0, y0, x1, y1])
        return estimated_boxes, len(contours)

    estimated_boxes_at_each_thr, number_of_box_list = [], []
    for threshold in scoremap_threshold_list:
        boxes, number_of_box = scoremap2bbox(threshold)
        estimated_boxes_at_each_thr.append(boxes)
        number_of_box_list.append(number_of_box)
    return estimated_boxes_at_each_thr, number_of_box_list


def calculate_multiple_iou(box_a, box_b):
    box_a, box_b = np.asarray(box_a), np.asarray(box_b)
    min_x = np.maximum(box_a[:, None, 0], box_b[None, :, 0])
    min_y = np.maximum(box_a[:, None, 1], box_b[None, :, 1])
    max_x = np.minimum(box_a[:, None, 2], box_b[None, :, 2])
    max_y = np.minimum(box_a[:, None, 3], box_b[None, :, 3])
    area_intersect = np.maximum(0, max_x - min_x + 1) * np.maximum(0, max_y - min_y + 1)
    area_a = ((box_a[:, 2] - box_a[:, 0] + 1) * (box_a[:, 3] - box_a[:, 1] + 1))[:, None]
    area_b = ((box_b[:, 2] - box_b[:, 0] + 1) * (box_b[:, 3] - box_b[:, 1] + 1))[None, :]
    return area_intersect / (area_a + area_b - area_intersect)


def box_accuracy(score_maps, gt_boxes, iou_threshold_list=(30, 50, 70),
                 cam_curve_interval=0.01, multi_contour_eval=True):
    """BoxEvaluator: BoxAcc (%) per IoU threshold and CAM threshold."""
    cam_threshold_list = list(np.arange(0, 1, cam_curve_interval))
    num_correct = {t: np.zeros(len(cam_threshold_list)) for t in iou_threshold_list}
    for scoremap, gt in zip(score_maps, gt_boxes):
        boxes_at_thresholds, number_of_box_list = compute_bboxes_from_scoremaps(
            scoremap, cam_threshold_list, multi_contour_eval)
        boxes_at_thresholds = np.concatenate(boxes_at_thresholds, axis=0)
        multiple_iou = calculate_multiple_iou(np.array(boxes_at_thresholds), np.array(gt))
        idx = 0
        sliced_multiple_iou = []
        for nr_box in number_of_box_list:
            sliced_multiple_iou.append(max(multiple_iou.max(1)[idx:idx + nr_box]))
            idx += nr_box
        for threshold in iou_threshold_list:
            correct = np.where(np.asarray(sliced_multiple_iou) >= (threshold / 100))[0]
            num_correct[threshold][correct] += 1
    return {t: (num_correct[t] * 100.0 / len(score_maps)).tolist() for t in iou_threshold_list}


def pixel_average_precision(score_maps, masks, cam_curve_interval=0.001):
    """MaskEvaluator: PxAP (%) from score histograms; ``masks`` hold 1
    (foreground), 0 (background) or 255 (ignored)."""
    cam_threshold_list = list(np.arange(0, 1, cam_curve_interval))
    right_edges = np.append(cam_threshold_list, [1.0, 2.0, 3.0])
    true_hist = np.zeros(len(cam_threshold_list) + 2)
    false_hist = np.zeros(len(cam_threshold_list) + 2)
    for scoremap, gt_mask in zip(score_maps, masks):
        true_hist += np.histogram(scoremap[gt_mask == 1], bins=right_edges)[0]
        false_hist += np.histogram(scoremap[gt_mask == 0], bins=right_edges)[0]
    tp = true_hist[::-1].cumsum()
    fn = true_hist.sum() - tp
    fp = false_hist[::-1].cumsum()
    non_zero_indices = (tp + fp) != 0
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tp / (tp + fp)
        recall = tp / (tp + fn)
    return float((precision[1:] * np.diff(recall))[non_zero_indices[1:]].sum() * 100)
