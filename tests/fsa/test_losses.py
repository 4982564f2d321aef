"""fsa_loss against a NumPy loop over images, both stages."""

import numpy as np
import pytest
import tensorflow as tf

from fsa.losses import fsa_loss


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _bce(logits, target):
    p = _sigmoid(logits)
    return -(target * np.log(p) + (1 - target) * np.log(1 - p))


def _reference(cams, masks, counts, labels, stage, lambda_fsa=10.0, lambda_reg=0.2,
               fit="mse"):
    t = _sigmoid(cams)
    losses = []
    for i, c in enumerate(labels):
        if counts[c] == 0:
            losses.append(0.0)
            continue
        valid = masks[c, :counts[c]]
        if stage == 1:
            target = valid.max(axis=0)
        else:
            target = valid[np.argmin([((t[i, :, :, c] - m) ** 2).sum() for m in valid])]
        if fit == "mse":
            loss = ((t[i, :, :, c] - target) ** 2).mean()
        else:
            loss = _bce(cams[i, :, :, c].astype(np.float64), target).mean()
        loss += lambda_reg * sum((t[i, :, :, k] * target).mean()
                                 for k in range(cams.shape[-1]) if k != c and counts[k] > 0)
        losses.append(loss)
    return lambda_fsa * np.mean(losses)


@pytest.fixture
def case():
    rng = np.random.default_rng(0)
    cams = rng.normal(size=(6, 5, 4, 4)).astype("float32")
    masks = rng.uniform(0, 1, (4, 3, 5, 4)).astype("float32")
    masks[1, 2] = 7.0  # a padded slot with garbage: must be ignored
    counts = np.array([3, 2, 0, 1])
    labels = np.array([0, 1, 2, 3, 1, 2])
    return cams, masks, counts, labels


@pytest.mark.parametrize("fit", ["mse", "bce"])
@pytest.mark.parametrize("stage", [1, 2])
def test_matches_numpy(case, stage, fit):
    got = fsa_loss(*case, stage=stage, fit=fit)
    np.testing.assert_allclose(float(got), _reference(*case, stage=stage, fit=fit), rtol=1e-5)
    got = fsa_loss(*case, stage=stage, lambda_fsa=3.0, lambda_reg=0.0, fit=fit)
    np.testing.assert_allclose(float(got), _reference(*case, stage, 3.0, 0.0, fit), rtol=1e-5)


def test_bce_keeps_a_gradient_where_mse_has_none():
    """A CAM logit of -30 under a target of 1: the MSE on the sigmoid passes
    (almost) nothing back, the BCE on the logit passes T - target = -1."""
    masks = np.ones((1, 1, 2, 2), "float32")
    cams = tf.Variable(np.full((1, 2, 2, 1), -30.0, "float32"))
    grads = {}
    for fit in ("mse", "bce"):
        with tf.GradientTape() as tape:
            loss = fsa_loss(cams, masks, [1], [0], 1, lambda_fsa=1.0, lambda_reg=0.0, fit=fit)
        grads[fit] = tape.gradient(loss, cams).numpy()
    assert np.abs(grads["mse"]).max() < 1e-12
    np.testing.assert_allclose(grads["bce"], -0.25, rtol=1e-5)  # (T - 1) / 4 cells
    with pytest.raises(ValueError, match="fsa_loss: fit must be one of"):
        fsa_loss(cams, masks, [1], [0], 1, fit="l1")


def test_images_of_classes_without_masks_add_nothing(case):
    cams, masks, counts, _ = case
    assert float(fsa_loss(cams[:2], masks, counts, np.array([2, 2]), 1)) == 0.0


@pytest.mark.parametrize("stage", [1, 2])
def test_a_class_without_masks_is_not_pushed_off_other_regions(case, stage):
    """Class 2 has no masks: the overlap term passes no gradient to its CAM
    (nothing would pull it back up anywhere); masked classes still get one."""
    cams, masks, counts, labels = case
    variable = tf.Variable(cams)
    with tf.GradientTape() as tape:
        loss = fsa_loss(variable, masks, counts, labels, stage, fit="bce")
    grad = tape.gradient(loss, variable).numpy()
    assert np.all(grad[..., 2] == 0.0)
    other = labels != 3  # images whose true class is not 3 push class 3 off their region
    assert np.abs(grad[other][..., 3]).max() > 0


def test_stage2_picks_the_closest_mask():
    masks = np.zeros((1, 3, 4, 4), "float32")
    masks[0, 0, 0, 0] = masks[0, 1, 3, 3] = masks[0, 2, 1, 2] = 1.0
    cams = np.full((1, 4, 4, 1), -8.0, "float32")
    cams[0, 3, 3, 0] = 8.0  # the CAM lights the cell of mask 1
    loss = float(fsa_loss(cams, masks, [3], [0], stage=2, lambda_reg=0.0, lambda_fsa=1.0,
                          fit="mse"))
    t = _sigmoid(cams[0, :, :, 0])
    np.testing.assert_allclose(loss, ((t - masks[0, 1]) ** 2).mean(), rtol=1e-5)
    assert loss < float(fsa_loss(cams, masks[:, [0, 2, 1]], [2], [0], 2, 1.0, 0.0, "mse"))


@pytest.mark.parametrize("stage", [1, 2])
def test_gradients_are_finite_and_nonzero(case, stage):
    cams = tf.Variable(case[0])
    with tf.GradientTape() as tape:
        loss = fsa_loss(cams, *case[1:], stage=tf.constant(stage))
    grad = tape.gradient(loss, cams).numpy()
    assert np.all(np.isfinite(grad)) and np.abs(grad).sum() > 0
    assert np.abs(grad[[2, 5]]).sum() == 0  # class 2 has no masks
