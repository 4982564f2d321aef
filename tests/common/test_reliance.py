"""The reliance check against a NumPy loop over single images, and on two
analytic models: one that reads only the ignored corner (its predictions
become the donors') and one that never sees it (nothing changes)."""

import keras
import numpy as np
import pytest

from common.reliance import Reliance, reliance, swap_regions

N, S, C = 8, 12, 3


def _data():
    rng = np.random.default_rng(0)
    images = rng.random((N, S, S, 3)).astype("float32")
    ignore = np.zeros((N, S, S), "float32")
    ignore[:, :4, :4] = 1.0
    ignore[3, 8:, 8:] = 0.5  # a soft mask blends
    return images, ignore, np.arange(N) % C


def _model(crop):
    """Dense on a cropped window only: ((top, bottom), (left, right))."""
    keras.utils.set_random_seed(1)
    inputs = keras.Input((S, S, 3))
    x = keras.layers.Cropping2D(crop)(inputs)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(C, activation="softmax")(x))


def _loop(model, images, ignore, labels):
    """One image at a time: donor of i is i - 1, of image 0 image 1."""
    predict = lambda x: int(model.predict(x[None], verbose=0).argmax())  # noqa: E731
    changed = swapped_correct = correct = 0
    for i in range(len(images)):
        donor = images[1] if i == 0 else images[i - 1]
        mask = ignore[i][..., None]
        swapped = images[i] * (1 - mask) + donor * mask
        original, after = predict(images[i]), predict(swapped)
        changed += original != after
        correct += original == labels[i]
        swapped_correct += after == labels[i]
    return 100.0 * changed / len(images), correct / len(images), swapped_correct / len(images)


@pytest.mark.parametrize("batch_size", [2, 3, 8])
def test_batches_match_a_loop_over_single_images(batch_size):
    images, ignore, labels = _data()
    model = _model(((0, 6), (0, 6)))  # sees the corner and more
    result = reliance(model, images, ignore, labels, batch_size=batch_size)
    changed, accuracy, swapped = _loop(model, images, ignore, labels)
    assert result["changed_pct"] == pytest.approx(changed)
    assert result["accuracy"] == pytest.approx(accuracy)
    assert result["swapped_accuracy"] == pytest.approx(swapped)
    assert result["images"] == N


def test_a_model_reading_only_the_corner_takes_the_donors_predictions():
    images, ignore, labels = _data()
    ignore[3] = 0.0
    ignore[3, :4, :4] = 1.0
    model = _model(((0, S - 4), (0, S - 4)))  # the 4 x 4 corner alone
    own = model.predict(images, verbose=0).argmax(-1)
    donors = np.concatenate([images[1:2], images[:-1]])
    swapped = model.predict(swap_regions(images, ignore, donors), verbose=0).argmax(-1)
    np.testing.assert_array_equal(swapped, np.concatenate([own[1:2], own[:-1]]))
    result = reliance(model, images, ignore, labels, batch_size=3)
    expected = 100.0 * np.mean(own != np.concatenate([own[1:2], own[:-1]]))
    assert result["changed_pct"] == pytest.approx(expected) and expected > 0


def test_a_model_that_never_sees_the_region_changes_nothing():
    images, ignore, labels = _data()
    ignore[3] = 0.0
    ignore[3, :4, :4] = 1.0
    model = _model(((4, 0), (4, 0)))  # everything but the first 4 rows and columns
    result = reliance(model, images, ignore, labels, batch_size=3)
    assert result["changed_pct"] == 0.0
    assert result["swapped_accuracy"] == result["accuracy"]


def test_the_maps_share_inside_the_region():
    check = Reliance()
    maps = np.zeros((2, 4, 4))
    maps[0, 0, 0], maps[0, 3, 3], maps[1, 1, 1] = 3.0, 1.0, -5.0  # negatives do not count
    ignore = np.zeros((2, 4, 4))
    ignore[:, 0, 0] = 1.0
    check.update_maps("cam", maps, ignore)
    assert check.result()["map_share_inside_pct"] == {"cam": pytest.approx(75.0)}


def test_one_image_is_refused():
    images, ignore, labels = _data()
    with pytest.raises(ValueError, match="at least two images"):
        Reliance().update(lambda x: np.zeros(len(x)), images[:1], ignore[:1], labels[:1])
