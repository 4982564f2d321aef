"""Explanation metrics against plain NumPy loops (one image, one pixel
ordering at a time): deletion / insertion curves with ties and both
baselines, the number of forward passes, the blur, average drop and
increase, pointing games from boxes and masks, and the streaming means."""

import math

import numpy as np
import pytest
import tensorflow as tf

from common.backbones import build_backbone
from common.classifier import build_cam_classifier
from common.explanation_metrics import (ExplanationMeans, causal_curve, confidence_change,
                                        curve_fractions, deletion, gaussian_blur, insertion,
                                        pixel_ranks)
from common.pointing_game import boxes_to_masks, energy_pointing_game, pointing_game

SIZE, CLASSES = 8, 4


def _linear_softmax(seed=0):
    """A deterministic classifier and its NumPy twin: softmax(flatten(x) W)."""
    kernel = np.random.default_rng(seed).normal(size=(SIZE * SIZE * 3, CLASSES))
    kernel = kernel.astype(np.float32)

    def model(x):
        return tf.nn.softmax(tf.reshape(x, (tf.shape(x)[0], -1)) @ kernel)

    def reference(x):
        logits = x.reshape(-1).astype(np.float64) @ kernel
        e = np.exp(logits - logits.max())
        return e / e.sum()
    return model, reference


def _tied_maps(rng, batch):
    """Maps with few distinct values, so most pixels tie."""
    return np.round(rng.random((batch, SIZE, SIZE)) * 3).astype(np.float32)


def _numpy_blur(image, size=11, sigma=5.0):
    offsets = np.arange(size) - (size - 1) / 2
    kernel = np.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * sigma ** 2))
    kernel /= kernel.sum()
    height, width, _ = image.shape
    out = np.zeros_like(image, dtype=np.float64)
    half = size // 2
    for y in range(height):
        for x in range(width):
            for dy in range(size):
                for dx in range(size):
                    yy, xx = y + dy - half, x + dx - half
                    if 0 <= yy < height and 0 <= xx < width:
                        out[y, x] += kernel[dy, dx] * image[yy, xx]
    return out


def _numpy_curve(predict, image, saliency, mode, baseline, steps, cls=None):
    """RISE's loop for one image: the stable order (descending value, then
    index), floor(k N / steps) pixels changed at step k, trapezoid AUC."""
    flat = saliency.reshape(-1)
    order = sorted(range(flat.size), key=lambda p: (-flat[p], p))
    start, finish = (image, baseline) if mode == "deletion" else (baseline, image)
    scores, fractions = [], []
    for k in range(steps + 1):
        count = k * flat.size // steps
        x = start.reshape(-1, 3).copy()
        x[order[:count]] = finish.reshape(-1, 3)[order[:count]]
        probabilities = predict(x.reshape(image.shape))
        if cls is None:  # the class predicted on the unperturbed image
            cls = int(np.argmax(predict(image)))
        scores.append(probabilities[cls])
        fractions.append(count / flat.size)
    auc = sum((scores[i] + scores[i + 1]) / 2 * (fractions[i + 1] - fractions[i])
              for i in range(steps))
    return np.array(scores), auc


def test_pixel_ranks_order_ties_by_index():
    maps = _tied_maps(np.random.default_rng(1), 3)
    ranks = pixel_ranks(maps).numpy().reshape(3, -1)
    for i in range(3):
        flat = maps[i].reshape(-1)
        order = sorted(range(flat.size), key=lambda p: (-flat[p], p))
        np.testing.assert_array_equal(ranks[i][order], np.arange(flat.size))


def test_gaussian_blur_matches_a_zero_padded_convolution():
    images = np.random.default_rng(2).random((2, SIZE, SIZE, 3)).astype(np.float32)
    blurred = gaussian_blur(images).numpy()
    for i in range(2):
        np.testing.assert_allclose(blurred[i], _numpy_blur(images[i]), atol=1e-5)


@pytest.mark.parametrize("mode,baseline", [("deletion", "zero"), ("deletion", "blur"),
                                           ("insertion", "zero"), ("insertion", "blur")])
def test_curves_match_numpy_loop_with_ties(mode, baseline):
    rng = np.random.default_rng(3)
    model, reference = _linear_softmax()
    images = rng.random((3, SIZE, SIZE, 3)).astype(np.float32)
    maps = _tied_maps(rng, 3)
    steps, chunk = 7, 5  # 64 pixels in uneven steps; 24 inputs in uneven chunks
    calls = []

    def counted(x):
        calls.append(int(x.shape[0]))
        return model(x)

    got = causal_curve(counted, images, maps, mode, baseline, steps=steps, chunk_size=chunk)
    assert len(calls) == math.ceil(3 * (steps + 1) / chunk) == 5
    assert sum(calls) == 3 * (steps + 1) and max(calls) == chunk
    for i in range(3):
        base = np.zeros_like(images[i]) if baseline == "zero" else _numpy_blur(images[i])
        scores, auc = _numpy_curve(reference, images[i], maps[i], mode, base, steps)
        np.testing.assert_allclose(got[f"{mode}_curve"][i], scores, atol=1e-5)
        np.testing.assert_allclose(got[f"{mode}_auc"][i], auc, atol=1e-5)


def test_curves_explain_the_given_class_and_accept_other_map_sizes():
    rng = np.random.default_rng(4)
    model, reference = _linear_softmax(1)
    images = rng.random((2, SIZE, SIZE, 3)).astype(np.float32)
    small = rng.random((2, 4, 4)).astype(np.float32)
    resized = tf.image.resize(small[..., None], (SIZE, SIZE)).numpy()[..., 0]
    classes = np.array([3, 1])
    got = deletion(model, images, small, class_index=classes, steps=4, chunk_size=64)
    for i in range(2):
        scores, auc = _numpy_curve(reference, images[i], resized[i], "deletion",
                                   np.zeros_like(images[i]), 4, cls=classes[i])
        np.testing.assert_allclose(got["deletion_curve"][i], scores, atol=1e-5)
        np.testing.assert_allclose(got["deletion_auc"][i], auc, atol=1e-5)
    np.testing.assert_allclose(curve_fractions(SIZE, SIZE, 4), [0, .25, .5, .75, 1])


def test_curves_of_a_keras_model_in_tf_function():
    model = build_cam_classifier(build_backbone("tiny", (SIZE, SIZE, 3)), 3)
    rng = np.random.default_rng(5)
    images = rng.random((2, SIZE, SIZE, 3)).astype(np.float32)
    maps = rng.random((2, SIZE, SIZE)).astype(np.float32)
    compiled = tf.function(lambda x, m: insertion(model, x, m, steps=4, chunk_size=3))
    got = compiled(tf.constant(images), tf.constant(maps))

    def predict(x):
        return model(x[None], training=False).numpy()[0].astype(np.float64)
    for i in range(2):
        scores, auc = _numpy_curve(predict, images[i], maps[i], "insertion",
                                   _numpy_blur(images[i]), 4)
        np.testing.assert_allclose(got["insertion_curve"][i], scores, atol=1e-5)
        np.testing.assert_allclose(got["insertion_auc"][i], auc, atol=1e-5)


def test_average_drop_and_increase_match_numpy_loop():
    rng = np.random.default_rng(6)
    model, reference = _linear_softmax(2)
    images = rng.random((8, SIZE, SIZE, 3)).astype(np.float32)
    maps = 5.0 * rng.random((8, SIZE, SIZE)).astype(np.float32) - 1.0  # not in [0, 1]
    # The predicted class, then the least likely one for half the images:
    # darkening the image flattens the softmax, so those gain confidence.
    given = np.array([np.argmin(reference(x)) if i % 2 else np.argmax(reference(x))
                      for i, x in enumerate(images)])
    for classes in (None, given):
        got = confidence_change(model, images, maps, class_index=classes)
        drops, increases = [], []
        for i in range(8):
            low, high = maps[i].min(), maps[i].max()
            explained = images[i] * ((maps[i] - low) / (high - low))[..., None]
            cls = int(np.argmax(reference(images[i]))) if classes is None else classes[i]
            y, o = reference(images[i])[cls], reference(explained)[cls]
            drops.append(100 * max(0.0, y - o) / y)
            increases.append(100.0 * (o > y))
        np.testing.assert_allclose(got["average_drop_pct"], drops, atol=1e-3)
        np.testing.assert_array_equal(got["increase_in_confidence_pct"], increases)
    assert 0 < sum(increases) < 800 and 0 < sum(drops)  # both cases occur


def _numpy_pointing(saliency, objects, tolerance):
    flat = int(np.argmax(saliency))  # first maximum in row-major order
    py, px = divmod(flat, saliency.shape[1])
    hit = any((y - py) ** 2 + (x - px) ** 2 <= tolerance ** 2
              for y in range(objects.shape[0]) for x in range(objects.shape[1])
              if objects[y, x])
    low, high = saliency.min(), saliency.max()
    norm = (saliency - low) / (high - low) if high > low else np.zeros_like(saliency)
    energy = norm[objects].sum() / norm.sum() if norm.sum() > 0 else 0.0
    return 100.0 * hit, 100.0 * energy


def _numpy_box_mask(boxes, height, width):
    mask = np.zeros((height, width), bool)
    for y1, x1, y2, x2 in boxes:
        for y in range(height):
            for x in range(width):
                cy, cx = (y + 0.5) / height, (x + 0.5) / width
                mask[y, x] |= (y1 <= cy <= y2) and (x1 <= cx <= x2)
    return mask


def test_pointing_games_from_ragged_and_padded_boxes():
    rng = np.random.default_rng(7)
    size = 40
    maps = rng.random((4, size, size)).astype(np.float32)
    maps[1] = np.round(maps[1])  # many tied maxima: the first one counts
    maps[2, 30, 30] = 2.0  # the peak, 16 px right of the box's last column (14)
    ragged = [np.array([[0.1, 0.1, 0.3, 0.4], [0.6, 0.5, 0.9, 0.7]]),
              np.array([[0.5, 0.0, 1.0, 0.5]]),
              np.array([[0.0, 0.0, 1.0, 14.5 / size]]),
              np.zeros((0, 4))]
    padded = np.zeros((4, 2, 4), np.float32)
    valid = np.zeros((4, 2), bool)
    for i, boxes in enumerate(ragged):
        padded[i, :len(boxes)], valid[i, :len(boxes)] = boxes, True
    masks = boxes_to_masks(padded, size, size, valid).numpy()
    np.testing.assert_array_equal(masks, boxes_to_masks(ragged, size, size).numpy())
    hits = pointing_game(maps, boxes=ragged)["pointing_game_pct"].numpy()
    energy = energy_pointing_game(maps, boxes=padded, valid=valid)
    energy = energy["energy_pointing_game_pct"].numpy()
    for i in range(3):
        np.testing.assert_array_equal(masks[i], _numpy_box_mask(ragged[i], size, size))
        want_hit, want_energy = _numpy_pointing(maps[i], masks[i], 15)
        assert hits[i] == want_hit
        np.testing.assert_allclose(energy[i], want_energy, rtol=1e-4)
    assert hits[2] == 0.0  # 16 px > 15 px
    assert np.isnan(hits[3]) and np.isnan(energy[3])  # no box: not counted
    wider = pointing_game(maps, boxes=ragged, tolerance=16)["pointing_game_pct"].numpy()
    assert wider[2] == _numpy_pointing(maps[2], masks[2], 16)[0] == 100.0  # distance <= 16


def test_pointing_games_from_masks_and_constant_maps():
    rng = np.random.default_rng(8)
    maps = rng.random((3, 20, 20)).astype(np.float32)
    maps[2] = 0.5  # constant: peak at pixel 0, no energy
    masks = (rng.random((3, 20, 20)) > 0.8).astype(np.uint8)
    hits = pointing_game(maps, masks=masks, tolerance=2)["pointing_game_pct"].numpy()
    energy = energy_pointing_game(maps, masks=masks)["energy_pointing_game_pct"].numpy()
    for i in range(3):
        want_hit, want_energy = _numpy_pointing(maps[i], masks[i] > 0, 2)
        assert hits[i] == want_hit
        np.testing.assert_allclose(energy[i], want_energy, rtol=1e-4)
    assert energy[2] == 0.0
    with pytest.raises(ValueError, match="exactly one"):
        pointing_game(maps)


def test_means_stream_batch_by_batch_and_skip_nan():
    rng = np.random.default_rng(9)
    model, _ = _linear_softmax(3)
    images = rng.random((6, SIZE, SIZE, 3)).astype(np.float32)
    maps = rng.random((6, SIZE, SIZE)).astype(np.float32)
    whole = {**deletion(model, images, maps, steps=4),
             **confidence_change(model, images, maps)}
    means = ExplanationMeans()
    for part in (slice(0, 4), slice(4, 6)):
        means.update({**deletion(model, images[part], maps[part], steps=4),
                      **confidence_change(model, images[part], maps[part])})
        means.update({"pointing_game_pct": np.array([100.0, np.nan])})
    result = means.result()
    for name, values in whole.items():
        np.testing.assert_allclose(result[name], np.mean(np.asarray(values), axis=0),
                                   rtol=1e-5)
    assert result["deletion_curve"].shape == (5,)
    assert result["pointing_game_pct"] == 100.0
