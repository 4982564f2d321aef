"""Localisation evaluation of a trained model on a table with boxes."""

import cv2
import numpy as np
import tensorflow as tf

from common.cam import GradCAM, normalize_maps
from common.data.pipeline import decode_image
from common.data.tables import encode_labels
from common.progress import bar
from fam.boxes import box_from_map
from fam.metrics import (localization_accuracy, max_box_acc, pixel_average_precision,
                         read_mask)


def scaled_boxes(table, image_size):
    """Ground-truth boxes per image, rescaled from the file's pixel size to
    the square model input and truncated to integers, as the protocol's
    ``resize_bbox`` does (``int(x * new_width / width)``)."""
    boxes = []
    for path, image_boxes in zip(table["path"], table["boxes"]):
        height, width = cv2.imread(path, cv2.IMREAD_UNCHANGED).shape[:2]
        box = np.asarray(image_boxes, np.float64).reshape(-1, 4)
        sizes = np.array([width, height] * 2, np.float64)
        boxes.append(np.trunc(box * float(image_size) / sizes).astype(np.int64))
    return boxes


def pixel_ap(table, maps):
    """PxAP (%) of maps against the table's masks (maps resized to each
    mask's size, bilinearly)."""
    masks, resized = [], []
    for mask_paths, ignore, score_map in zip(table["masks"], table["ignore"], maps):
        mask = read_mask(mask_paths, ignore or None)
        masks.append(mask)
        resized.append(cv2.resize(np.asarray(score_map, np.float32), mask.shape[::-1],
                                  interpolation=cv2.INTER_LINEAR))
    return pixel_average_precision(resized, masks)


def foreground_maps(network, images, labels=None, kind="fam", batch_size=32, verbose=0):
    """(N, H, W) maps in [0, 1] at input resolution: FAM's foreground map, or
    for a plain classifier (``kind="cam"``) the normalised CAM of the true
    class (Grad-CAM of a GAP -> Dense head is exactly that)."""
    size = images.shape[1:3]
    maps = []
    starts = bar(range(0, len(images), batch_size), desc=f"{kind.upper()} maps",
                 verbose=verbose, unit="batch")
    if kind == "fam":
        from fam.model import maps_model
        model = maps_model(network)
        for start in starts:
            fg = model(images[start:start + batch_size], training=False)["foreground"]
            maps.append(tf.image.resize(fg, size, method="bilinear")[..., 0].numpy())
    else:
        cam = GradCAM(network)
        for start in starts:
            maps.append(cam(images[start:start + batch_size],
                            class_index=labels[start:start + batch_size]).numpy())
    return np.clip(np.concatenate(maps), 0.0, 1.0)


def evaluate_localization(network, table, class_names, image_size, probabilities,
                          kind="fam", threshold=0.5, verbose=0):
    """Top-1 Cls, GT-known Loc, Top-1 Loc (boxes at ``threshold``),
    MaxBoxAccV2 (min-max normalised maps) and, where the table has masks,
    PxAP; all in %."""
    images = tf.stack([decode_image(p, (image_size, image_size))
                       for p in table["path"]]).numpy()
    labels = encode_labels(table, class_names)
    maps = foreground_maps(network, images, labels, kind, verbose=verbose)
    boxes = [box_from_map(m, threshold) for m in maps]
    normalised = normalize_maps(tf.constant(maps)).numpy()
    if table["boxes"].map(len).gt(0).all():
        gts = scaled_boxes(table, image_size)
        result = localization_accuracy(boxes, gts, probabilities.argmax(-1), labels)
        result["max_box_acc_v2_pct"] = max_box_acc(normalised, gts)["max_box_acc_v2_pct"]
    else:  # masks only (OpenImages): no box metrics
        gts = [np.zeros((0, 4), np.int64)] * len(table)
        result = {"top1_cls_pct": 100.0 * float(np.mean(probabilities.argmax(-1) == labels))}
    if "masks" in table and table["masks"].map(len).gt(0).all():
        result["pxap_pct"] = pixel_ap(table, normalised)
    result["map_kind"] = kind
    return result, maps, boxes, gts
