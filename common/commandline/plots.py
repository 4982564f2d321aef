"""Pictures a reviewer can read without the code: heatmap overlays with a
colour bar, titles that say which class a map shows, legends for boxes, and
the confusion matrix in counts and per true class. Every tile or picture is
drawn at least ``MIN_SIDE`` pixels on its short side, whatever the model's
input size."""

import textwrap

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402
from sklearn.metrics import confusion_matrix  # noqa: E402

from common.io import atomic_write  # noqa: E402

MIN_SIDE = 224  # pixels, short side of a picture or a tile
DPI = 100
HEAT = "jet"


def overlay(image, heatmap, alpha=0.45):
    """float RGB (H, W, 3) in [0, 1]: a jet-coloured heatmap (H, W) in
    [0, 1] over an image (H, W, 3) in [0, 1]."""
    jet = plt.get_cmap(HEAT)(np.clip(np.asarray(heatmap), 0, 1))[..., :3]
    return np.clip(alpha * jet + (1 - alpha) * np.asarray(image, np.float64), 0, 1)


def save_figure(path, figure):
    """Writes a figure as PNG atomically (every title and legend inside) and
    closes it."""
    atomic_write(path, lambda tmp: figure.savefig(tmp, dpi=DPI, format="png",
                                                  bbox_inches="tight", pad_inches=0.15))
    plt.close(figure)


def wrap(text, width):
    """Each line of ``text`` wrapped at ``width`` characters."""
    return "\n".join(textwrap.fill(line, width) for line in str(text).splitlines())


def heat_colorbar(figure, axes, label="Grad-CAM (normalised per image)"):
    mappable = plt.cm.ScalarMappable(cmap=HEAT, norm=plt.Normalize(0, 1))
    bar = figure.colorbar(mappable, ax=axes, fraction=0.025, pad=0.01)
    bar.set_label(label)
    return bar


def cam_grid_figure(images, heatmaps, captions, title, columns=4):
    """A grid of overlays, each tile at least MIN_SIDE pixels, captioned
    (several lines each), under one title and one colour bar."""
    count = len(images)
    columns = min(columns, count)
    rows = -(-count // columns)
    side = MIN_SIDE / DPI + 0.2
    figure, axes = plt.subplots(rows, columns, squeeze=False,
                                figsize=(columns * side + 1.2, rows * (side + 0.65) + 0.6))
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < count:
            axis.imshow(overlay(images[index], heatmaps[index]), interpolation="nearest")
            axis.set_title(captions[index], fontsize=8, loc="left")
    figure.suptitle(title, fontsize=10)
    heat_colorbar(figure, axes.ravel().tolist())
    return figure


def single_figure(image, title, heatmap=None, boxes=(), legend=(), colorbar_label=None):
    """One picture at least MIN_SIDE pixels on its short side: the image (or
    its overlay with ``heatmap``), rectangles ``boxes`` as (x0, y0, x1, y1,
    colour, width) in the image's pixels, a legend of (colour, label)."""
    height, width = np.asarray(image).shape[:2]
    scale = max(1.0, MIN_SIDE / min(height, width)) * 1.15
    figure = plt.figure(figsize=(width * scale / DPI + (1.4 if heatmap is not None else 0.4),
                                 height * scale / DPI + 1.3))
    axis = figure.add_axes([0.03, 0.03, 0.8 if heatmap is not None else 0.94, 0.72])
    shown = image if heatmap is None else overlay(image, heatmap)
    axis.imshow(shown, interpolation="nearest", extent=(-0.5, width - 0.5, height - 0.5, -0.5))
    for x0, y0, x1, y1, colour, line in boxes:
        axis.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0 + 1, y1 - y0 + 1, fill=False,
                                 edgecolor=colour, linewidth=line))
    axis.axis("off")
    figure.suptitle(wrap(title, max(30, int(figure.get_figwidth() * 13))), fontsize=9,
                    x=0.03, ha="left", y=0.98, va="top")
    if legend:
        axis.legend(handles=[Patch(facecolor="none", edgecolor=c, linewidth=2, label=text)
                             for c, text in legend], loc="upper center", fontsize=7,
                    bbox_to_anchor=(0.5, -0.01), ncol=min(3, len(legend)), frameon=False)
    if heatmap is not None:
        heat_colorbar(figure, [axis], colorbar_label or "Grad-CAM (normalised)")
    return figure


def confusion_figure(y_true, y_pred, class_names):
    """Counts and row-normalised rates (recall per true class) side by side,
    each with its title and colour bar."""
    labels = list(range(len(class_names)))
    counts = confusion_matrix(y_true, y_pred, labels=labels)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    side = max(3.5, 0.45 * len(class_names) + 2)
    figure, axes = plt.subplots(1, 2, figsize=(2 * side + 1.5, side + 0.8))
    for axis, values, title, form in ((axes[0], counts, "Counts", "d"),
                                      (axes[1], rates, "Per true class (rows sum to 1)", ".2f")):
        image = axis.imshow(values, cmap="Blues", vmin=0, vmax=values.max() or 1)
        figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04)
        axis.set_title(title, fontsize=10)
        axis.set_xticks(labels, class_names, rotation=90, fontsize=8)
        axis.set_yticks(labels, class_names, fontsize=8)
        axis.set_xlabel("predicted class")
        axis.set_ylabel("true class")
        limit = values.max() / 2 if values.max() else 0.5
        for (row, column), value in np.ndenumerate(values):
            axis.text(column, row, format(value, form), ha="center", va="center", fontsize=7,
                      color="white" if value > limit else "black")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    figure.suptitle(f"Confusion matrix on {counts.sum()} images (accuracy {accuracy:.3f})",
                    fontsize=11)
    figure.tight_layout()
    return figure


def save_confusion_matrix(path, y_true, y_pred, class_names):
    save_figure(path, confusion_figure(y_true, y_pred, class_names))
