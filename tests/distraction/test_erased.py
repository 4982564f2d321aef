"""The erased test set: seeded per image, so streaming it in batches of any
size gives the metrics of erasing and predicting the whole set at once."""

import cv2
import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from common.data.pipeline import decode_image
from common.training.metrics import classification_metrics
from common.training.sharded_predict import Shard, shard_rows
from distraction.robustness import erase
from distraction.trainer import erased_metrics


def test_erase_is_per_image_and_erases_one_rectangle_of_the_asked_area():
    images = np.full((9, 40, 30, 3), 7.0, np.float32)  # outside the noise's [0, 1]
    erased = erase(images, seed=3)
    np.testing.assert_array_equal(erase(images[4:7], seed=3, rows=range(4, 7)), erased[4:7])
    assert not np.array_equal(erase(images, seed=4), erased)
    assert images.max() == 7.0  # the input is left as it is
    for image in erased:
        ys, xs = np.nonzero((image != 7.0).any(-1))
        changed = len(ys)
        # one filled rectangle whose area is 2-40 % of the image (rounding aside)
        assert changed == (np.ptp(ys) + 1) * (np.ptp(xs) + 1)
        assert 0.01 * 1200 <= changed <= 0.45 * 1200
        assert image[ys, xs].max() <= 1.0


def test_erased_metrics_do_not_depend_on_the_batch_size(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(11):
        path = str(tmp_path / f"{i}.png")
        colour = rng.integers(0, 255, 3)  # the dominant channel is the predicted class
        cv2.imwrite(path, np.clip(colour + rng.integers(-20, 20, (30 + i, 36, 3)), 0, 255)
                    .astype(np.uint8))
        rows.append({"path": path, "labels": (str(i % 3),)})
    table, classes = pd.DataFrame(rows), ["0", "1", "2"]
    network = keras.Sequential([keras.Input((24, 24, 3)), keras.layers.GlobalAveragePooling2D(),
                                keras.layers.Dense(3, activation="softmax")])
    network.layers[-1].set_weights([20 * np.eye(3, dtype=np.float32)[::-1],
                                    np.zeros(3, np.float32)])  # BGR files, RGB input
    images = tf.stack([decode_image(p, (24, 24)) for p in table["path"]]).numpy()
    probabilities = network.predict(erase(images, seed=9), verbose=0)
    expected = classification_metrics(np.arange(11) % 3, probabilities, classes, False)
    for batch_size in (2, 5, 11):
        got = erased_metrics(network, table, classes, 24, batch_size, seed=9)
        assert got == expected
    assert np.abs(probabilities - network.predict(images, verbose=0)).max() > 0.01
    assert 0 < got["accuracy"] < 1
    # A worker's share (rows 1::2) erases its images as the whole set does.
    share = _Half(len(table), 1)
    erased_metrics(network, table, classes, 24, 4, seed=9, shard=share)
    np.testing.assert_allclose(share.local, probabilities[1::2], rtol=1e-6, atol=1e-7)


class _Half(Shard):
    """The second of two workers' shares, run in this process: ``gather``
    keeps the local probabilities and returns the whole set's."""

    def __init__(self, count, index):
        super().__init__(count)
        self.rows, self.local = shard_rows(count, index, 2), None

    def gather(self, values):
        self.local = values
        whole = np.zeros((self.count, values.shape[1]), values.dtype)
        whole[self.rows] = values
        return whole
