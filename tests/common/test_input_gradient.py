"""The input-gradient guide (Right for the Right Reasons) against a NumPy
reference on a softmax regression, whose input gradient is analytic; its
term through fit() with the ``ignore`` annotation, under MirroredStrategy
(2 replicas, an uneven batch) and mixed precision; the annotation from a
CSV through attention-train, moved by the augmentation, and refused in one
line where the data lacks it."""

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import common
from common.data.augment import MasksFollow, build_augmentation
from tests.common.annotated_data import annotated_csv, tiny_train
from tests.common.numeric import central_differences

B, S, C = 5, 4, 3


def _softmax_regression(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((S, S, 3)), keras.layers.Flatten(),
                             keras.layers.Dense(C, activation="softmax", dtype="float32")])


def _batch(batch=B):
    rng = np.random.default_rng(0)
    x = rng.random((batch, S, S, 3)).astype("float32")
    ignore = (rng.random((batch, S, S)) > 0.5).astype("float32")
    ignore[-1] = 0.0  # an image without a mask adds nothing
    return x, ignore, np.arange(batch) % C


def _reference(kernel, bias, x, ignore, weight):
    """weight * mean_b sum (ignore * d/dx sum_k log p_k)^2, in float64:
    sum_k log p_k = sum_k z_k - K logsumexp(z), so d/dz = 1 - K p and
    d/dx = W (1 - K p)."""
    flat = x.reshape(len(x), -1).astype(np.float64)
    z = flat @ kernel + bias
    p = np.exp(z - z.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    gradient = ((1 - C * p) @ kernel.T).reshape(x.shape)
    return weight * np.mean(np.sum((gradient * ignore[..., None]) ** 2, axis=(1, 2, 3)))


def _term(model, x, ignore, y, guide):
    step = model.step({"image": tf.constant(x), "ignore": tf.constant(ignore)}, y,
                      training=True)
    return guide.terms(step)["input_gradient_loss"]


def test_the_term_and_its_gradient_match_a_numpy_reference():
    network = _softmax_regression()
    guide = common.InputGradientPenalty(7.0)
    model = common.GuidedClassifier(network, guides=[guide])
    x, ignore, y = _batch()
    dense = network.layers[-1]
    kernel, bias = dense.kernel.numpy().astype(np.float64), dense.bias.numpy()
    assert float(_term(model, x, ignore, y, guide)) == pytest.approx(
        _reference(kernel, bias, x, ignore, 7.0), rel=1e-5)
    with tf.GradientTape() as tape:  # the double backward pass training takes
        term = _term(model, x, ignore, y, guide)
    analytic = tape.gradient(term, dense.kernel).numpy()
    numeric = central_differences(lambda k: _reference(k, bias, x, ignore, 7.0), kernel)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-3, atol=1e-6)


def test_fit_trains_the_gradient_inside_ignore_away():
    """With a large weight the input gradient inside the masks shrinks
    (the term falls by an order of magnitude) while the classifier learns."""
    network = _softmax_regression()
    model = common.GuidedClassifier(network, guides=[common.InputGradientPenalty(100.0)])
    model.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
    x, ignore, y = _batch(30)
    history = model.fit({"image": x, "ignore": ignore}, y, batch_size=10, epochs=30,
                        verbose=0).history
    assert history["input_gradient_loss"][-1] < history["input_gradient_loss"][0] / 10
    assert history["loss"][-1] < history["loss"][0]


def _logs_and_alone(network, x, ignore, y, batch):
    guide = common.InputGradientPenalty(3.0)
    model = common.GuidedClassifier(network, guides=[guide])
    model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
    logs = model.fit({"image": x, "ignore": ignore}, y, batch_size=batch, epochs=1,
                     verbose=0, shuffle=False).history
    alone = common.GuidedClassifier(network, guides=[guide])
    return logs["input_gradient_loss"][0], float(_term(alone, x, ignore, y, guide))


def test_under_mirrored_strategy_the_term_is_the_global_batch_mean(mirrored):
    """5 images on 2 replicas (3 + 2), as one replica would compute them."""
    from tests.common.user_networks import sequential
    x, ignore, y = _batch(5)
    x = np.repeat(np.repeat(x, 4, axis=1), 4, axis=2)
    ignore = np.repeat(np.repeat(ignore, 4, axis=1), 4, axis=2)
    with mirrored.scope():
        network = sequential((4 * S, 4 * S, 3), C)
        logged, alone = _logs_and_alone(network, x, ignore, y, batch=5)
    assert logged == pytest.approx(alone, rel=1e-4)


def test_with_mixed_precision_the_term_is_finite_and_close():
    from tests.common.user_networks import sequential
    x, ignore, y = _batch()
    x = np.repeat(np.repeat(x, 4, axis=1), 4, axis=2)
    ignore = np.repeat(np.repeat(ignore, 4, axis=1), 4, axis=2)
    keras.utils.set_random_seed(0)
    reference = sequential((4 * S, 4 * S, 3), C)
    weights = reference.get_weights()
    _, full = _logs_and_alone(reference, x, ignore, y, batch=B)
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        network = sequential((4 * S, 4 * S, 3), C)
        network.set_weights(weights)
        logged, _ = _logs_and_alone(network, x, ignore, y, batch=B)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert np.isfinite(logged) and logged == pytest.approx(full, rel=2e-2)


def test_a_missing_ignore_mask_is_one_line():
    guide = common.InputGradientPenalty()
    model = common.GuidedClassifier(_softmax_regression(), guides=[guide])
    model.compile("sgd", "sparse_categorical_crossentropy")
    x, _, y = _batch()
    with pytest.raises(ValueError, match="InputGradientPenalty: the inputs have no 'ignore'"):
        model.fit(x, y, epochs=1, verbose=0)


def test_a_negative_weight_is_refused():
    with pytest.raises(ValueError, match="weight must be >= 0"):
        common.InputGradientPenalty(-1.0)


def test_masks_move_with_the_geometric_augmentation_and_keep_their_brightness():
    x, ignore, _ = _batch()
    flip = MasksFollow(build_augmentation("horizontal", brightness=(0.2, 0.3), seed=3))
    out = flip({"image": tf.constant(x), "ignore": tf.constant(ignore)})
    flipped = out["ignore"].numpy()
    for i in range(B):  # each image flipped or not, its mask with it
        same = np.array_equal(flipped[i], ignore[i])
        assert same or np.array_equal(flipped[i], ignore[i][:, ::-1])
        source = x[i] if same else x[i][:, ::-1]
        ratio = out["image"].numpy()[i] / np.maximum(source, 1e-6)
        assert 0.19 < np.median(ratio) < 0.31  # the image darkened, the mask not
    assert set(np.unique(flipped)) <= {0.0, 1.0}


def _draw(i):
    mask = np.zeros((16, 16), np.uint8)
    mask[:4, :4] = 255
    return mask


def _csv(tmp_path, with_ignore=True):
    """A few 16 px images of two classes, each with an ignore mask file."""
    return annotated_csv(tmp_path, "ignore", _draw, with_ignore)


def test_attention_train_reads_ignore_masks_from_the_csv(tmp_path):
    done = tiny_train("--data", _csv(tmp_path), "--input-gradient", "10", "--gradcam-penalty", "1",
                  "--counterexamples", "0.5", "--flip", "horizontal", "--output",
                  tmp_path / "run")
    assert done.returncode == 0, done.stderr[-3000:]
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    assert history["input_gradient_loss"].gt(0).all(), history
    assert "val_input_gradient_loss" in history and history["counterexamples"].between(
        0, 1).all()
    assert history["gradcam_loss"].ge(0).all() and "val_gradcam_loss" in history


@pytest.mark.parametrize("flag", ["--input-gradient", "--gradcam-penalty", "--counterexamples",
                                  "--box-energy"])
def test_a_guide_whose_annotation_the_data_lacks_is_one_line(tmp_path, flag):
    done = tiny_train("--data", _csv(tmp_path, with_ignore=False), flag, "1", "--flip", "none",
                  "--output", tmp_path / "run")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-3000:]
    assert f"{flag}: '" in lines[0] and "has no" in lines[0], lines
    assert not (tmp_path / "run" / "model.keras").exists()
