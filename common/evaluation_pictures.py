"""The pictures of ``common.evaluate``: per image, the image, each map
source's map of the predicted class over it, and their deletion and
insertion curves, each titled with what it shows; the ground-truth boxes
where the data has them."""

import numpy as np
from matplotlib.patches import Rectangle

from common.commandline.plots import DPI, MIN_SIDE, heat_colorbar, overlay, plt, save_figure


def draw(path, picture, classes, steps):
    """One PNG: the image (true and predicted class), one overlay per map
    source (with its deletion and insertion AUC) and the curves of every
    source against the fraction of pixels deleted or inserted."""
    from common.explanation_metrics import curve_fractions
    image, maps = picture["image"], picture["maps"]
    probabilities, label = picture["probabilities"], picture["label"]
    predicted = int(np.argmax(probabilities))
    columns = min(4, 1 + len(maps))
    rows = -(-(1 + len(maps)) // columns)
    side = MIN_SIDE / DPI + 0.5
    figure = plt.figure(figsize=(columns * side + 1.0, rows * (side + 0.3) + 3.4))
    grid = figure.add_gridspec(rows + 1, columns, height_ratios=[side + 0.3] * rows + [3.0],
                               hspace=0.45)
    tiles = [figure.add_subplot(grid[i // columns, i % columns]) for i in range(1 + len(maps))]
    tiles[0].imshow(image, interpolation="nearest")
    tiles[0].set_title(f"true {classes[label]}\npredicted {classes[predicted]} "
                       f"({probabilities[predicted]:.2f})", fontsize=8, loc="left")
    for axis, (name, values) in zip(tiles[1:], maps.items()):
        axis.imshow(overlay(image, values["map"]), interpolation="nearest")
        axis.set_title(f"{name} of {classes[predicted]}\ndeletion AUC "
                       f"{float(values['deletion_auc']):.3f}\ninsertion AUC "
                       f"{float(values['insertion_auc']):.3f}", fontsize=8, loc="left")
    for axis in tiles:
        axis.axis("off")
        for x0, y0, x1, y1 in picture.get("boxes", ()):  # pixel boxes, inclusive corners
            axis.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0 + 1, y1 - y0 + 1,
                                     fill=False, edgecolor="lime", linewidth=1.2))
    if len(picture.get("boxes", ())):
        tiles[0].set_title(tiles[0].get_title("left") + "\ngreen: ground-truth box",
                           fontsize=8, loc="left")
    heat_colorbar(figure, tiles, "map (normalised per image)")
    curves = figure.add_subplot(grid[rows, :])
    fractions = curve_fractions(image.shape[0], image.shape[1], steps)
    for index, (name, values) in enumerate(maps.items()):
        colour = f"C{index}"
        curves.plot(fractions, values["deletion_curve"], "-", color=colour,
                    label=f"{name} deletion")
        curves.plot(fractions, values["insertion_curve"], "--", color=colour,
                    label=f"{name} insertion")
    curves.set_xlabel("fraction of pixels deleted / inserted")
    curves.set_ylabel(f"p({classes[predicted]})")
    curves.set_ylim(-0.02, 1.02)
    curves.set_title("deletion (solid), insertion (dashed)", fontsize=8, loc="left")
    curves.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    save_figure(path, figure)
