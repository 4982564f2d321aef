"""fam.localization.evaluate_localization streams the table batch by batch:
its metrics equal the whole-set functions on maps computed here at once,
whatever the batch size."""

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

from common.backbones import build_backbone
from common.cam import normalize_maps
from common.data.pipeline import decode_image
from common.training.sharded_predict import Shard, shard_rows
from common.wsol_accumulators import LocalizationMetrics, scaled_boxes
from common.wsol_metrics import localization_accuracy, max_box_acc, pixel_average_precision
from fam.localization import evaluate_localization
from fam.model import build_fam, maps_model


def _table(tmp_path, count=7):
    import pandas as pd
    rng = np.random.default_rng(1)
    rows = []
    for i in range(count):
        image = rng.integers(0, 60, (40, 50, 3), np.uint8)
        top, left = rng.integers(0, 15, 2)
        image[top:top + 20, left:left + 25] = 230
        path, mask_path = str(tmp_path / f"{i}.png"), str(tmp_path / f"m{i}.png")
        cv2.imwrite(path, image)
        mask = np.zeros((40, 50), np.uint8)
        mask[top:top + 20, left:left + 25] = 255
        cv2.imwrite(mask_path, mask)
        rows.append({"path": path, "labels": (str(i % 2),), "masks": (mask_path,),
                     "ignore": "", "boxes": ((left, top, left + 24, top + 19),)})
    return pd.DataFrame(rows)


def test_streamed_metrics_equal_whole_set_metrics_for_any_batch_size(tmp_path):
    table = _table(tmp_path)
    keras.utils.set_random_seed(5)
    network = build_fam(build_backbone("tiny", (32, 32, 3)), 2).network
    images = tf.stack([decode_image(p, (32, 32)) for p in table["path"]])
    outputs = maps_model(network)(images)
    probabilities = outputs["probabilities"].numpy()
    maps = np.clip(tf.image.resize(outputs["foreground"], (32, 32))[..., 0].numpy(), 0, 1)
    normalised = normalize_maps(tf.constant(maps)).numpy()
    from common.wsol_metrics import box_from_map
    threshold = float(np.quantile(maps, 0.6))  # an untrained map's boxes at 0.5 are all empty
    labels = np.arange(len(table)) % 2
    gts = scaled_boxes(table, 32)
    expected = localization_accuracy([box_from_map(m, threshold) for m in maps], gts,
                                     probabilities.argmax(-1), labels)
    expected["max_box_acc_v2_pct"] = max_box_acc(normalised, gts)["max_box_acc_v2_pct"]
    masks = [(cv2.imread(p, cv2.IMREAD_GRAYSCALE) > 0).astype(np.uint8)
             for (p,) in table["masks"]]
    resized = [cv2.resize(m, (50, 40), interpolation=cv2.INTER_LINEAR) for m in normalised]
    pxap = pixel_average_precision(resized, masks)
    assert 0 < expected["gt_known_loc_pct"] < 100 and 0 < expected["max_box_acc_v2_pct"] < 100
    for batch_size in (1, 3, 7):
        result, kept = evaluate_localization(network, table, ["0", "1"], 32, probabilities,
                                             threshold=threshold, batch_size=batch_size,
                                             keep=4)
        assert {k: result[k] for k in expected} == pytest.approx(expected, abs=1e-9)
        assert result["pxap_pct"] == pytest.approx(pxap, abs=1e-6)
        assert len(kept) == 4
        np.testing.assert_allclose(kept[3]["map"], maps[3], atol=1e-5)
        np.testing.assert_allclose(kept[3]["image"], images[3].numpy(), atol=1e-6)
        assert kept[2]["gts"].tolist() == gts[2].tolist()
        assert kept[1]["box"] == box_from_map(kept[1]["map"], threshold)  # scored in a thread
    # Two workers' shares (rows 0::2 and 1::2) scored apart: their summed
    # counts give the whole set's metrics (what Shard.sum does across workers).
    shards = [_Half(len(table), index) for index in (0, 1)]
    for shard in shards:
        evaluate_localization(network, table, ["0", "1"], 32, probabilities,
                              threshold=threshold, batch_size=2, shard=shard)
    assert [int(s.local[3]) for s in shards] == [4, 3]  # each counted its rows only
    summed = LocalizationMetrics(True, True, threshold)
    summed.load_counts(shards[0].local + shards[1].local)
    result = summed.result()
    assert {k: result[k] for k in expected} == pytest.approx(expected, abs=1e-9)
    assert result["pxap_pct"] == pytest.approx(pxap, abs=1e-6)


class _Half(Shard):
    """One of two workers' shares, run in this process: ``sum`` keeps the
    local counts (the test adds the two)."""

    def __init__(self, count, index):
        super().__init__(count)
        self.rows, self.local = shard_rows(count, index, 2), None

    def sum(self, counts):
        self.local = np.asarray(counts)
        return self.local
