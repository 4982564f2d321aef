"""Accuracy, WSOL metrics and explanation metrics of any saved image
classifier over a table, streamed batch by batch (``common.evaluate`` is
its command).

For each batch and each map source (``common.cam_methods.MAP_SOURCES``, or
a model's own through ``common.model_inputs``):

- the maps of the *predicted* class are scored for faithfulness: deletion
  (zero baseline) and insertion (blurred baseline) curves and their AUC,
  average drop and increase in confidence (``common.explanation_metrics``);
- where every image has boxes (or masks), the maps of the *true* class, as
  the localisation protocols explain it, give the pointing game, the
  energy-based pointing game (``common.pointing_game``) and the WSOL
  protocol's metrics (``common.wsol_accumulators``).

A model with inputs besides the image (AG-Net's regions) gets them from
each image file as its trainer computed them; the perturbed copies of an
image keep its own (the maps explain the image given them), so its
curves are computed image by image.

Every metric is a sum or a count (``ExplanationMeans``, the WSOL
accumulators), so memory does not grow with the table; only the labels
and predicted classes (two ints per image) are kept whole.
"""

import numpy as np
import tensorflow as tf

from common.data.image_header import file_size
from common.data.pipeline import make_dataset
from common.data.tables import encode_labels
from common.explanation_metrics import ExplanationMeans, confidence_change, deletion, insertion
from common.model_inputs import ImageClassifier
from common.pointing_game import energy_pointing_game, pointing_game
from common.reliance import Reliance
from common.training.metrics import prediction_metrics
from common.commandline.progress import batches
from common.wsol_accumulators import LocalizationMetrics, has_boxes_and_masks, scaled_boxes
from common.wsol_metrics import read_mask

TOLERANCE = 15  # pixels of the image file, the pointing game's (Zhang et al.)


def file_sizes(rows):
    """(height, width) of each row's image file (``file_size``)."""
    return [file_size(path) for path in rows["path"]]


def pointing_terms(maps, rows, has_boxes):
    """Pointing game and energy pointing game per image at the resolution
    of its file, where the 15 px tolerance was defined (the maps resized
    bilinearly), from the rows' boxes, or else their masks."""
    terms = {"pointing_game_pct": np.full(len(maps), np.nan, np.float32),
             "energy_pointing_game_pct": np.full(len(maps), np.nan, np.float32)}
    if not has_boxes:
        for i, (mask_paths, ignore) in enumerate(zip(rows["masks"], rows["ignore"])):
            mask = (read_mask(mask_paths, ignore or None) == 1)[None]
            one = {**pointing_game(maps[i:i + 1], masks=mask, tolerance=TOLERANCE),
                   **energy_pointing_game(maps[i:i + 1], masks=mask)}
            for name, value in one.items():
                terms[name][i] = value.numpy()[0]
        return terms
    sizes = file_sizes(rows)
    for size in sorted(set(sizes)):  # the images of one size at once
        index = [i for i, s in enumerate(sizes) if s == size]
        boxes = [np.asarray(rows["boxes"].iloc[i], np.float32).reshape(-1, 4)[:, [1, 0, 3, 2]]
                 / np.array(size * 2, np.float32) for i in index]  # normalised y1, x1, y2, x2
        resized = tf.image.resize(maps[index][..., None], size, method="bilinear")[..., 0]
        one = {**pointing_game(resized, boxes=boxes, tolerance=TOLERANCE),
               **energy_pointing_game(resized, boxes=boxes)}
        for name, value in one.items():
            terms[name][index] = value.numpy()
    return terms


def faithfulness_terms(classifier, images, other, maps, classes, steps, chunk_size):
    """Deletion, insertion and confidence terms (name -> (B, ...)) of the
    maps of ``classes``; with other inputs, image by image, each perturbed
    copy keeping its image's."""
    def terms(probabilities_of, images, maps, classes):
        curves = {"class_index": classes, "steps": steps, "chunk_size": chunk_size}
        return {**deletion(probabilities_of, images, maps, **curves),
                **insertion(probabilities_of, images, maps, **curves),
                **confidence_change(probabilities_of, images, maps, class_index=classes)}

    if not other:
        return terms(classifier.probabilities, images, maps, classes)

    def one(row):
        image, fixed, image_map, image_class = row

        def probabilities_of(copies):
            count = tf.shape(copies)[0]
            return classifier.probabilities(copies, {
                name: tf.repeat(value[None], count, axis=0) for name, value in fixed.items()})
        found = terms(probabilities_of, image[None], image_map[None], image_class[None])
        return {name: value[0] for name, value in found.items()}
    shapes = {"deletion_auc": (), "deletion_curve": (steps + 1,), "insertion_auc": (),
              "insertion_curve": (steps + 1,), "average_drop_pct": (),
              "increase_in_confidence_pct": ()}
    return tf.map_fn(one, (images, other, maps, classes), fn_output_signature={
        name: tf.TensorSpec(shape, tf.float32) for name, shape in shapes.items()})


def batch_functions(classifier, sources, steps, chunk_size):
    """Two ``tf.function`` of (images, classes, other inputs), traced once
    for any batch size: ``faithfulness``, each source's maps of ``classes``
    and their deletion, insertion and confidence terms (name -> (maps,
    terms)); ``maps``, each source's maps (name -> maps)."""
    signature = [tf.TensorSpec((None, *classifier.image_size, 3), tf.float32),
                 tf.TensorSpec((None,), tf.int32), classifier.other_specs()]

    @tf.function(input_signature=signature)
    def faithfulness(images, classes, other):
        out = {}
        for name, source in sources.items():
            maps = source(images, other, class_index=classes)
            out[name] = (maps, faithfulness_terms(classifier, images, other, maps, classes,
                                                  steps, chunk_size))
        return out

    @tf.function(input_signature=signature)
    def maps(images, classes, other):
        return {name: source(images, other, class_index=classes)
                for name, source in sources.items()}
    return faithfulness, maps


def evaluate_classifier(model, table, classes, sources=("gradcam",), steps=100, batch_size=32,
                        keep=8, verbose=1, threshold=0.5, chunk_size=128, check_ignore=False):
    """Evaluates ``model`` (a Keras classifier of images in [0, 1], or a
    ``common.model_inputs.ImageClassifier``) on ``table``.

    Returns ``(result, kept)``: ``result`` holds the classification metrics
    (``common.training.metrics``), ``images`` and per map source under
    ``maps`` the means of the explanation metrics (curves as lists), with
    the pointing games and WSOL metrics where every image has boxes or
    masks; ``kept`` is, for the first ``keep`` images, a dict of the
    image, its label, probabilities, and per source its map and curves.
    With ``check_ignore`` (the table's ``ignore`` column of mask files),
    ``result["reliance"]`` is ``common.reliance.Reliance``'s: what the model
    predicts when each image's ignore region comes from another image.
    """
    classifier = model if isinstance(model, ImageClassifier) else ImageClassifier(model)
    size = classifier.image_size
    labels = encode_labels(table, classes)
    has_boxes, has_masks = has_boxes_and_masks(table)
    faithfulness, maps_of = batch_functions(
        classifier, {name: classifier.map_source(name) for name in sources}, steps, chunk_size)
    means = {name: ExplanationMeans() for name in sources}
    localization = {name: LocalizationMetrics(has_boxes, has_masks, threshold)
                    for name in sources} if has_boxes or has_masks else {}
    predicted_all, kept, start = [], [], 0
    check = Reliance() if check_ignore else None
    extra = classifier.file_inputs(table["path"], verbose)
    if check:
        extra["ignore"] = table["ignore"].to_numpy().astype(str)
    data = make_dataset(table, classes, size, batch_size, cache=False,
                        extra_inputs=extra or None)
    for inputs, _ in batches(data, len(table), batch_size, "evaluation", verbose):
        images = inputs["image"] if extra else inputs
        other = {name: inputs[name] for name in classifier.other}
        rows = slice(start, start + len(images))
        truth = labels[rows]
        probabilities = classifier.probabilities(images, other).numpy()
        predicted = probabilities.argmax(-1).astype(np.int32)
        predicted_all.append(predicted)
        if check:
            ignore = inputs["ignore"].numpy()
            check.update(lambda x: classifier.probabilities(tf.constant(x), other).numpy()
                         .argmax(-1), images.numpy(), ignore, truth, predicted)
        pictures = [{"image": images[i].numpy(), "label": int(truth[i]),
                     "probabilities": probabilities[i], "maps": {}}
                    for i in range(min(max(keep - start, 0), len(images)))]
        if has_boxes and pictures:  # drawn over the image, at the model's input size
            for picture, boxes in zip(pictures, scaled_boxes(
                    table.iloc[start:start + len(pictures)], size[0])):
                picture["boxes"] = boxes
        explained = faithfulness(images, tf.constant(predicted), other)
        wrong = np.flatnonzero(predicted != truth)
        corrected = (maps_of(tf.gather(images, wrong), tf.constant(truth[wrong]),
                             {name: tf.gather(value, wrong) for name, value in other.items()})
                     if localization and len(wrong) else {})
        for name in sources:
            maps, terms = explained[name][0].numpy(), {k: v.numpy() for k, v in
                                                        explained[name][1].items()}
            means[name].update(terms)
            if check:
                check.update_maps(name, maps, ignore)
            for i, picture in enumerate(pictures):
                picture["maps"][name] = {"map": maps[i], **{
                    k: terms[k][i] for k in ("deletion_curve", "insertion_curve",
                                             "deletion_auc", "insertion_auc")}}
            if localization:
                true_maps = maps.copy()
                if len(wrong):  # the true class's maps where the prediction is wrong
                    true_maps[wrong] = corrected[name].numpy()
                part = table.iloc[rows]
                means[name].update(pointing_terms(true_maps, part, has_boxes))
                localization[name].update(true_maps, part, size[0], predicted, truth)
        kept += pictures
        start += len(images)
    result = prediction_metrics(labels, np.concatenate(predicted_all), classes)
    result["images"] = len(table)
    result["maps"] = {}
    for name in sources:
        values = {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                  for k, v in means[name].result().items()}
        result["maps"][name] = {**values, **(localization[name].result()
                                             if localization else {})}
    if check:
        result["reliance"] = check.result()
    return result, kept
