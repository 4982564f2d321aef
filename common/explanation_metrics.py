"""Faithfulness of explanation maps, batched and in-graph: deletion and
insertion AUC (RISE) and average drop / increase in confidence
(Grad-CAM++), for any single-input classifier (a callable images ->
probabilities) and any map source ((B, H, W) maps).

Each metric returns per-image terms, float32 (B, ...), named for the
metric their mean over images is; ``ExplanationMeans`` sums them batch by
batch so a test set streams (pointing games: ``common.pointing_game``).

Example:

```python
means, source = ExplanationMeans(), GradCAM(model)
for images, _ in dataset:
    maps = source(images)
    means.update(deletion(model, images, maps))    # zero baseline
    means.update(insertion(model, images, maps))   # blurred baseline
    means.update(confidence_change(model, images, maps))
means.result()  # deletion_auc, deletion_curve, insertion_auc, ..., average_drop_pct
```

References:
    Petsiuk et al., RISE: Randomized Input Sampling for Explanation of
    Black-box Models, BMVC 2018 (deletion, insertion).
    Chattopadhay et al., Grad-CAM++, WACV 2018 (average drop, increase in
    confidence).
"""

import numpy as np
import tensorflow as tf

from common.cam import normalize_maps
from common.chunked import call_model, predict_in_chunks


def maps_at(maps, size):
    """(B, H, W) float32 maps, bilinearly resized when not already ``size``."""
    maps = tf.cast(tf.convert_to_tensor(maps), tf.float32)
    if tuple(maps.shape[1:3]) == tuple(size):
        return maps
    return tf.image.resize(maps[..., None], size, method="bilinear")[..., 0]


def pixel_ranks(maps):
    """(B, H, W) int32: each pixel's place in the order of removal or
    insertion, 0 first. The order is by descending map value; equal values
    go in row-major order (a stable sort of the flattened map), so the
    curves are deterministic whatever the ties."""
    maps = tf.convert_to_tensor(maps)
    flat = tf.reshape(maps, (tf.shape(maps)[0], -1))
    order = tf.argsort(flat, axis=-1, direction="DESCENDING", stable=True)
    ranks = tf.argsort(order, axis=-1, stable=True)  # the inverse permutation
    return tf.reshape(tf.cast(ranks, tf.int32), tf.shape(maps))


def step_counts(num_pixels, steps):
    """Pixels changed after step k = 0 .. steps: floor(k * num_pixels / steps)."""
    k = tf.range(steps + 1, dtype=tf.int64)
    return tf.cast(k * tf.cast(num_pixels, tf.int64) // steps, tf.int32)


def curve_fractions(height, width, steps):
    """The curves' x axis: the fraction of pixels changed after each step."""
    return np.arange(steps + 1) * (height * width) // steps / (height * width)


def gaussian_blur(images, size=11, sigma=5.0):
    """Each channel convolved with a normalised size x size Gaussian, zero
    padded to the same size: RISE's insertion baseline (11 px, sigma 5)."""
    images = tf.cast(tf.convert_to_tensor(images), tf.float32)
    offsets = np.arange(size) - (size - 1) / 2.0
    line = np.exp(-offsets ** 2 / (2.0 * sigma ** 2))
    kernel = np.outer(line, line) / np.outer(line, line).sum()
    channels = images.shape[-1]
    kernel = np.tile(kernel[:, :, None, None], (1, 1, channels, 1)).astype(np.float32)
    return tf.nn.depthwise_conv2d(images, kernel, strides=(1, 1, 1, 1), padding="SAME")


def _baseline(baseline, images, blur_size, blur_sigma):
    if isinstance(baseline, str):
        if baseline == "zero":
            return tf.zeros_like(images)
        if baseline == "blur":
            return gaussian_blur(images, blur_size, blur_sigma)
        raise ValueError(f"baseline must be 'zero', 'blur' or an array; got {baseline!r}")
    return tf.broadcast_to(tf.cast(baseline, tf.float32), tf.shape(images))


def causal_curve(model, images, maps, mode="deletion", baseline="zero", class_index=None,
                 steps=100, chunk_size=128, blur_size=11, blur_sigma=5.0):
    """Deletion or insertion curve and its area (Petsiuk et al., BMVC 2018).

    Deletion starts from the image and replaces its pixels by the
    baseline's, insertion starts from the baseline and puts the image's
    pixels back, in the order of ``pixel_ranks(maps)`` (highest first),
    floor(k * H * W / steps) pixels after step k = 0 .. steps. The score is
    the model's probability of the explained class (``class_index``, by
    default the class predicted on the unperturbed image); the AUC is the
    trapezoid rule over the fraction of pixels changed (``curve_fractions``).
    Deletion: lower is more faithful; insertion: higher.

    model: images (n, H, W, C) -> probabilities (n, K). maps: (B, H, W) (or
    another size, resized bilinearly). baseline: "zero", "blur"
    (``gaussian_blur(images, blur_size, blur_sigma)``) or an array that
    broadcasts to the images.

    The B * (steps + 1) perturbed images are built chunk by chunk and run in
    exactly ceil(B * (steps + 1) / chunk_size) forward passes; the
    predicted class comes from the curve's unperturbed end, not an extra
    pass. Returns ``{f"{mode}_auc": (B,), f"{mode}_curve": (B, steps + 1)}``.
    """
    if mode not in ("deletion", "insertion"):
        raise ValueError(f"mode must be 'deletion' or 'insertion'; got {mode!r}")
    if int(steps) < 1:
        raise ValueError(f"steps must be a positive integer; got {steps!r}")
    images = tf.cast(tf.convert_to_tensor(images), tf.float32)
    height, width = images.shape[1], images.shape[2]
    ranks = pixel_ranks(maps_at(maps, (height, width)))
    base = _baseline(baseline, images, blur_size, blur_sigma)
    start, finish = (images, base) if mode == "deletion" else (base, images)
    counts = step_counts(height * width, steps)
    points = steps + 1

    def make_inputs(indices):
        image, step = indices // points, indices % points
        changed = tf.gather(ranks, image) < tf.gather(counts, step)[:, None, None]
        return tf.where(changed[..., None], tf.gather(finish, image), tf.gather(start, image))

    total = tf.shape(images)[0] * points
    outputs = predict_in_chunks(model, make_inputs, total, chunk_size)
    outputs = tf.reshape(outputs, (-1, points, tf.shape(outputs)[-1]))  # (B, steps+1, K)
    if class_index is None:
        class_index = tf.argmax(outputs[:, 0 if mode == "deletion" else steps], axis=-1)
    class_index = tf.cast(tf.reshape(class_index, (-1,)), tf.int32)
    curve = tf.gather(outputs, class_index, axis=2, batch_dims=1)
    widths = tf.constant(np.diff(curve_fractions(height, width, steps)), tf.float32)
    auc = tf.reduce_sum((curve[:, 1:] + curve[:, :-1]) / 2.0 * widths, axis=1)
    return {f"{mode}_auc": auc, f"{mode}_curve": curve}


def deletion(model, images, maps, baseline="zero", **kwargs):
    """``causal_curve`` in deletion mode; RISE deletes to a zero baseline."""
    return causal_curve(model, images, maps, "deletion", baseline, **kwargs)


def insertion(model, images, maps, baseline="blur", **kwargs):
    """``causal_curve`` in insertion mode; RISE inserts into a blurred copy."""
    return causal_curve(model, images, maps, "insertion", baseline, **kwargs)


def confidence_change(model, images, maps, class_index=None):
    """Average drop and increase in confidence (Chattopadhay et al., WACV
    2018), per image.

    The explanation map image is image * map, the map resized to the input
    and min-max normalised to [0, 1]. With Y the probability of the
    explained class (by default the predicted one) on the image and O on
    the explanation map image: ``average_drop_pct`` = 100 max(0, Y - O) / Y
    (0 when Y is 0), ``increase_in_confidence_pct`` = 100 [O > Y]; their
    means over images are the paper's metrics (lower drop, higher increase
    is better). One forward pass of the 2B images.
    """
    images = tf.cast(tf.convert_to_tensor(images), tf.float32)
    maps = normalize_maps(maps_at(maps, (images.shape[1], images.shape[2])))
    outputs = call_model(model, tf.concat([images, images * maps[..., None]], axis=0))
    full, explained = tf.split(outputs, 2, axis=0)
    if class_index is None:
        class_index = tf.argmax(full, axis=-1)
    class_index = tf.cast(tf.reshape(class_index, (-1,)), tf.int32)
    y = tf.gather(full, class_index, axis=1, batch_dims=1)
    o = tf.gather(explained, class_index, axis=1, batch_dims=1)
    drop = tf.where(y > 0, tf.nn.relu(y - o) / tf.where(y > 0, y, 1.0), 0.0)
    return {"average_drop_pct": 100.0 * drop,
            "increase_in_confidence_pct": 100.0 * tf.cast(o > y, tf.float32)}


class ExplanationMeans:
    """Means over images of per-image metric terms, accumulated batch by
    batch (sums and counts, float64), so memory does not grow with the test
    set. ``update(terms)`` takes a dict name -> (B, ...) values, as the
    metric functions return; NaN marks a term that does not apply to an
    image (e.g. a pointing game without a box) and is not counted.
    ``result()`` is name -> mean (a float, or an array for curves).

    Under a strategy, update with each replica's values (or sum several
    workers' ``sums`` and ``counts``).
    """

    def __init__(self):
        self.sums, self.counts = {}, {}

    def update(self, terms):
        for name, values in terms.items():
            values = np.asarray(values, np.float64)
            known = ~np.isnan(values)
            total = np.where(known, values, 0.0).sum(axis=0)
            count = known.sum(axis=0)
            self.sums[name] = self.sums.get(name, 0.0) + total
            self.counts[name] = self.counts.get(name, 0) + count

    def result(self):
        out = {}
        for name, total in self.sums.items():
            count = self.counts[name]
            mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
            out[name] = float(mean) if np.ndim(mean) == 0 else mean
        return out
