"""Pictures a person can read: sizes, titles, colour bars, legends, and
snapshot images that cover every class."""

import numpy as np
import pandas as pd

from common.training.harness import snapshot_rows
from common.commandline.plots import (MIN_SIDE, cam_grid_figure, confusion_figure, save_figure,
                                   single_figure)


def _texts(figure):
    texts = [t.get_text() for t in figure.texts]
    for axis in figure.axes:
        texts += [axis.get_title(), axis.get_title(loc="left"), axis.get_xlabel(),
                  axis.get_ylabel()]
        legend = axis.get_legend()
        if legend:
            texts += [t.get_text() for t in legend.get_texts()]
    return " | ".join(texts)


def test_snapshot_rows_cover_every_class_first():
    table = pd.DataFrame({"labels": [(c,) for c in "aaaabbbcd"]})
    assert snapshot_rows(table, ["a", "b", "c", "d"], 6) == [0, 4, 7, 8, 1, 5]
    assert snapshot_rows(table, ["d", "c", "b", "a"], 4) == [8, 7, 4, 0]  # the given order
    assert len(snapshot_rows(table, ["a", "b", "c", "d"], 20)) == 9


def test_cam_grid_has_big_tiles_titles_and_a_colour_bar(tmp_path):
    images = np.random.rand(5, 32, 32, 3)
    heat = np.random.rand(5, 32, 32)
    captions = [f"true: c{i}\npredicted: c{i} (0.90)\nmap of: c{i}" for i in range(5)]
    figure = cam_grid_figure(images, heat, captions, "Epoch 3: Grad-CAM of the true class")
    text = _texts(figure)
    assert "Epoch 3" in text and "map of: c4" in text
    assert "Grad-CAM (normalised per image)" in text  # the colour bar's label
    tile = figure.axes[0].get_window_extent()
    assert min(tile.width, tile.height) >= 128
    save_figure(tmp_path / "grid.png", figure)


def test_single_picture_is_large_with_title_and_legend(tmp_path):
    figure = single_figure(np.random.rand(24, 32, 3), "x.png\npredicted: cat (0.81)",
                           heatmap=np.random.rand(24, 32),
                           boxes=[(2, 3, 20, 15, "yellow", 2), (4, 4, 18, 14, "lime", 2)],
                           legend=[("yellow", "predicted box"), ("lime", "ground truth")])
    text = _texts(figure)
    assert "predicted: cat (0.81)" in text and "ground truth" in text
    figure.canvas.draw()
    corners = figure.axes[0].transData.transform([(-0.5, -0.5), (31.5, 23.5)])
    width, height = np.abs(corners[1] - corners[0])  # the drawn image, in pixels
    assert min(width, height) >= MIN_SIDE * 0.99
    save_figure(tmp_path / "one.png", figure)
    import cv2
    assert min(cv2.imread(str(tmp_path / "one.png")).shape[:2]) >= MIN_SIDE


def test_confusion_matrix_has_counts_rates_titles_and_colour_bars():
    figure = confusion_figure([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], ["a", "b", "c"])
    text = _texts(figure)
    assert "Counts" in text and "Per true class (rows sum to 1)" in text
    assert "Confusion matrix on 6 images (accuracy 0.667)" in text
    assert len(figure.axes) == 4  # two matrices, two colour bars
    rates = figure.axes[1].get_images()[0].get_array()
    np.testing.assert_allclose(rates.sum(axis=1), 1.0)
    np.testing.assert_allclose(rates[2], [1 / 3, 0, 2 / 3])
