"""Localisation evaluation of a trained model on a table with boxes."""

import cv2
import numpy as np
import tensorflow as tf

from common.cam import GradCAM, normalize_maps
from common.data.pipeline import decode_image
from common.data.tables import encode_labels
from fam.boxes import box_from_map
from fam.metrics import localization_accuracy, max_box_acc


def scaled_boxes(table, image_size):
    """Ground-truth boxes per image, rescaled from the file's pixel size to
    the square model input."""
    boxes = []
    for path, image_boxes in zip(table["path"], table["boxes"]):
        height, width = cv2.imread(path, cv2.IMREAD_UNCHANGED).shape[:2]
        scale = np.array([image_size / width, image_size / height] * 2)
        boxes.append(np.asarray(image_boxes, np.float64).reshape(-1, 4) * scale)
    return boxes


def foreground_maps(network, images, labels=None, kind="fam", batch_size=32):
    """(N, H, W) maps in [0, 1] at input resolution: FAM's foreground map, or
    for a plain classifier (``kind="cam"``) the normalised CAM of the true
    class (Grad-CAM of a GAP -> Dense head is exactly that)."""
    size = images.shape[1:3]
    maps = []
    if kind == "fam":
        from fam.model import maps_model
        model = maps_model(network)
        for start in range(0, len(images), batch_size):
            fg = model(images[start:start + batch_size], training=False)["foreground"]
            maps.append(tf.image.resize(fg, size, method="bilinear")[..., 0].numpy())
    else:
        cam = GradCAM(network)
        for start in range(0, len(images), batch_size):
            maps.append(cam(images[start:start + batch_size],
                            class_index=labels[start:start + batch_size]).numpy())
    return np.clip(np.concatenate(maps), 0.0, 1.0)


def evaluate_localization(network, table, class_names, image_size, probabilities,
                          kind="fam", threshold=0.5):
    """Top-1 Cls, GT-known Loc, Top-1 Loc (boxes at ``threshold``) and
    MaxBoxAccV2 (min-max normalised maps), in %."""
    images = tf.stack([decode_image(p, (image_size, image_size))
                       for p in table["path"]]).numpy()
    labels = encode_labels(table, class_names)
    maps = foreground_maps(network, images, labels, kind)
    gts = scaled_boxes(table, image_size)
    boxes = [box_from_map(m, threshold) for m in maps]
    result = localization_accuracy(boxes, gts, probabilities.argmax(-1), labels)
    normalised = normalize_maps(tf.constant(maps)).numpy()
    result["max_box_acc_v2"] = max_box_acc(normalised, gts)["max_box_acc_v2"]
    result["map_kind"] = kind
    return result, maps, boxes, gts
