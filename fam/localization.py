"""Localisation evaluation of a trained model on a table with boxes."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import tensorflow as tf

from common.cam import GradCAM
from common.data.pipeline import make_dataset
from common.data.tables import encode_labels
from common.commandline.progress import batches
from common.training.sharded_predict import Shard
from common.wsol_accumulators import LocalizationMetrics, has_boxes_and_masks


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
                          kind="fam", threshold=0.5, verbose=0, batch_size=32, keep=0,
                          shard=None):
    """Top-1 Cls, GT-known Loc, Top-1 Loc (boxes at ``threshold``),
    MaxBoxAccV2 (min-max normalised maps) and, where the table has masks,
    PxAP; all in %.

    The table streams through the input pipeline batch by batch and the
    metrics are counted (``common.wsol_accumulators``), so memory does not
    grow with the table; only ``probabilities`` (N x C) is whole. A batch's
    scores (OpenCV boxes, counts) are taken in a thread while the model
    makes the next batch's maps. Returns the
    metrics and, for the first ``keep`` images, dicts of ``image``, ``map``,
    ``box`` and ``gts`` (for pictures). ``shard``
    (``common.training.sharded_predict.Shard``): this worker scores its
    rows and the counts are summed over the workers; the first ``keep``
    images are then this worker's first."""
    metrics = LocalizationMetrics(*has_boxes_and_masks(table), threshold)
    shard = shard or Shard(len(table))
    table, probabilities = table.iloc[shard.rows], np.asarray(probabilities)[shard.rows]
    labels = encode_labels(table, class_names)
    maps_of = map_function(network, kind)
    data = (make_dataset(table, class_names, image_size, batch_size, cache=False)
            if len(table) else ())  # a worker's share can be empty

    def score(rows, maps):  # OpenCV and NumPy: runs while the next batch's maps are made
        return metrics.update(maps, table.iloc[rows], image_size,
                              probabilities[rows].argmax(-1), labels[rows])

    kept, start, pending = [], 0, None
    with ThreadPoolExecutor(1) as pool:  # one thread: the counts are added in order
        for images, _ in (batches(data, len(table), batch_size, f"{kind.upper()} maps",
                                  verbose) if len(table) else ()):
            rows = slice(start, start + len(images))
            maps = maps_of(images, labels[rows])
            kept += _pictures(pending, keep)  # waits for the previous batch's scores
            pending = (pool.submit(score, rows, maps), images, maps, start)
            start += len(images)
        kept += _pictures(pending, keep)
    metrics.load_counts(shard.sum(metrics.counts_vector()))  # one worker: the same counts
    result = metrics.result()
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
