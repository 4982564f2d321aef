"""Counterexamples: the ``ignore`` region replaced before the step, against
NumPy on a fixed batch (another image's pixels, the image's own pixels
shuffled, noise), the share of images changed, and through fit() on two
replicas."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import common
from tests.common.user_networks import sequential

B, S, C = 6, 8, 3


def _batch():
    rng = np.random.default_rng(0)
    x = rng.random((B, S, S, 3)).astype("float32")
    ignore = np.zeros((B, S, S), "float32")
    ignore[:, :3, :3] = 1.0
    ignore[2, 5:, 5:] = 1.0
    return x, ignore, np.arange(B) % C


def _prepared(guide, x, ignore, y):
    model = common.GuidedClassifier(sequential((S, S, 3), C), guides=[guide])
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.optimizer.build(model.trainable_variables)
    out, stats = guide.prepare(model, {"image": tf.constant(x), "ignore": tf.constant(ignore)},
                               tf.constant(y))
    return out["image"].numpy(), float(stats["counterexamples"])


def test_other_puts_the_next_images_pixels_inside_the_region_only():
    x, ignore, y = _batch()
    out, share = _prepared(common.Counterexamples(share=1.0, fill="other"), x, ignore, y)
    inside = ignore[..., None] > 0
    expected = np.where(inside, np.roll(x, 1, axis=0), x)
    np.testing.assert_array_equal(out, expected)
    assert share == 1.0


def test_shuffle_keeps_each_images_own_pixels_and_noise_stays_in_range():
    x, ignore, y = _batch()
    out, _ = _prepared(common.Counterexamples(fill="shuffle"), x, ignore, y)
    inside = ignore > 0
    for i in range(B):
        pixels = {tuple(p) for p in x[i].reshape(-1, 3)}
        assert all(tuple(p) in pixels for p in out[i][inside[i]])
        np.testing.assert_array_equal(out[i][~inside[i]], x[i][~inside[i]])
    assert not np.array_equal(out, x)
    noisy, _ = _prepared(common.Counterexamples(fill="noise"), x, ignore, y)
    assert 0.0 <= noisy.min() and noisy.max() <= 1.0
    assert not np.allclose(noisy[inside], x[inside])
    np.testing.assert_array_equal(noisy[~inside], x[~inside])


def test_a_share_changes_that_share_of_images():
    x, ignore, y = _batch()
    out, share = _prepared(common.Counterexamples(share=0.5, fill="other"), x, ignore, y)
    changed = [not np.array_equal(out[i], x[i]) for i in range(B)]
    assert share == pytest.approx(np.mean(changed))
    unchanged, share = _prepared(common.Counterexamples(share=0.0), x, ignore, y)
    np.testing.assert_array_equal(unchanged, x)
    assert share == 0.0


def test_bad_arguments_and_a_missing_mask_are_one_line():
    with pytest.raises(ValueError, match="share must be in"):
        common.Counterexamples(share=1.5)
    with pytest.raises(ValueError, match="fill must be one of"):
        common.Counterexamples(fill="blur")
    model = common.GuidedClassifier(sequential((S, S, 3), C), guides=[common.Counterexamples()])
    model.compile("sgd", "sparse_categorical_crossentropy")
    x, _, y = _batch()
    with pytest.raises(ValueError, match="the inputs have no 'ignore' mask"):
        model.fit(x, y, epochs=1, verbose=0)


def test_fit_on_two_replicas(mirrored):
    x, ignore, y = _batch()
    with mirrored.scope():
        model = common.GuidedClassifier(sequential((S, S, 3), C),
                                        guides=[common.Counterexamples(share=0.5)])
        model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    logs = model.fit({"image": x, "ignore": ignore}, y, batch_size=B, epochs=2,
                     verbose=0).history
    assert all(0.0 <= s <= 1.0 for s in logs["counterexamples"]) and np.isfinite(logs["loss"]).all()
