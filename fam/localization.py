"""Localisation evaluation of a trained model on a table with boxes."""

from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import tensorflow as tf

from common.cam import GradCAM, normalize_maps
from common.data.pipeline import make_dataset
from common.data.tables import encode_labels
from common.training.progress import batches
from fam.boxes import box_from_map
from fam.accumulators import BoxAccuracy, LocalizationCounts, PixelPrecision
from fam.metrics import read_mask


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


def map_function(network, kind="fam"):
    """``(images (B, H, W, 3), labels (B,)) -> (B, H, W)`` maps in [0, 1] at
    input resolution: FAM's foreground map, or for a plain classifier
    (``kind="cam"``) the normalised CAM of the true class (Grad-CAM of a
    GAP -> Dense head is exactly that). Compiled with ``tf.function``: run
    eagerly, layer by layer, it took about twice ``predict``'s time."""
    if kind == "fam":
        from fam.model import maps_model
        model = maps_model(network)

        def maps(images, labels):
            foreground = model(images, training=False)["foreground"]
            return tf.image.resize(foreground, tf.shape(images)[1:3], method="bilinear")[..., 0]
    else:
        cam = GradCAM(network)

        def maps(images, labels):
            return cam(images, class_index=labels)
    compiled = tf.function(maps, reduce_retracing=True)  # one trace for the last batch too
    return lambda images, labels: np.clip(np.asarray(compiled(images, labels)), 0.0, 1.0)


def evaluate_localization(network, table, class_names, image_size, probabilities,
                          kind="fam", threshold=0.5, verbose=0, batch_size=32, keep=0):
    """Top-1 Cls, GT-known Loc, Top-1 Loc (boxes at ``threshold``),
    MaxBoxAccV2 (min-max normalised maps) and, where the table has masks,
    PxAP; all in %.

    The table streams through the input pipeline batch by batch and the
    metrics are counted (``fam.accumulators``), so memory does not grow
    with the table; only ``probabilities`` (N x C) is whole. A batch's
    scores (OpenCV boxes, counts) are taken in a thread while the model
    makes the next batch's maps. Returns the
    metrics and, for the first ``keep`` images, dicts of ``image``, ``map``,
    ``box`` and ``gts`` (for pictures)."""
    labels = encode_labels(table, class_names)
    has_boxes = bool(table["boxes"].map(len).gt(0).all())
    has_masks = "masks" in table and bool(table["masks"].map(len).gt(0).all())
    counts, box_acc, pixels = LocalizationCounts(), BoxAccuracy(), PixelPrecision()
    maps_of = map_function(network, kind)
    data = make_dataset(table, class_names, image_size, batch_size, cache=False)

    def score(rows, maps):  # OpenCV and NumPy: runs while the next batch's maps are made
        part = table.iloc[rows]
        boxes = [box_from_map(m, threshold) for m in maps]
        gts = (scaled_boxes(part, image_size) if has_boxes
               else [np.zeros((0, 4), np.int64)] * len(part))
        normalised = normalize_maps(tf.constant(maps)).numpy()
        if has_boxes:
            counts.update(boxes, gts, probabilities[rows].argmax(-1), labels[rows])
            box_acc.update(normalised, gts)
        if has_masks:
            pixels.update(*masks_and_maps(part, normalised))
        return boxes, gts

    kept, start, pending = [], 0, None
    with ThreadPoolExecutor(1) as pool:  # one thread: the counts are added in order
        for images, _ in batches(data, len(table), batch_size, f"{kind.upper()} maps",
                                 verbose):
            rows = slice(start, start + len(images))
            maps = maps_of(images, labels[rows])
            kept += _pictures(pending, keep)  # waits for the previous batch's scores
            pending = (pool.submit(score, rows, maps), images, maps, start)
            start += len(images)
        kept += _pictures(pending, keep)
    if has_boxes:
        result = counts.result()
        result["max_box_acc_v2_pct"] = box_acc.result()["max_box_acc_v2_pct"]
    else:  # masks only (OpenImages): no box metrics
        result = {"top1_cls_pct": 100.0 * float(np.mean(probabilities.argmax(-1) == labels))}
    if has_masks:
        result["pxap_pct"] = pixels.result()
    result["map_kind"] = kind
    return result, kept


def _pictures(pending, keep):
    """The scored batch's entries among the first ``keep`` images (dicts of
    ``image``, ``map``, ``box``, ``gts``); waits for its scores first."""
    if pending is None:
        return []
    future, images, maps, start = pending
    boxes, gts = future.result()
    return [{"image": images[i].numpy(), "map": maps[i], "box": boxes[i], "gts": gts[i]}
            for i in range(min(max(keep - start, 0), len(maps)))]
