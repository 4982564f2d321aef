"""Pictures of a run: heatmap overlays and the confusion matrix."""

import cv2
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay  # noqa: E402

from common.io import atomic_write  # noqa: E402


def overlay(image, heatmap, alpha=0.45):
    """uint8 RGB of a jet-coloured heatmap (H, W) in [0, 1] over an image
    (H, W, 3) in [0, 1]."""
    image = np.clip(np.asarray(image) * 255.0, 0, 255).astype(np.uint8)
    heat = np.clip(np.asarray(heatmap) * 255.0, 0, 255).astype(np.uint8)
    jet = cv2.cvtColor(cv2.applyColorMap(heat, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    return cv2.addWeighted(jet, alpha, image, 1.0 - alpha, 0)


def save_rgb(path, rgb):
    """Writes an RGB uint8 image atomically (format from the extension)."""
    atomic_write(path, lambda tmp: cv2.imwrite(tmp, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)))


def save_overlay_grid(path, images, heatmaps, titles=None, scale=3, columns=8):
    """A grid of overlays, each upscaled ``scale`` times, with optional
    titles; written atomically."""
    tiles = []
    for i, (image, heat) in enumerate(zip(images, heatmaps)):
        tile = overlay(image, heat)
        tile = cv2.resize(tile, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        if titles is not None:
            cv2.putText(tile, str(titles[i])[:14], (2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                        (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(tile)
    while len(tiles) % columns and len(tiles) > columns:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.hstack(tiles[i:i + columns]) for i in range(0, len(tiles), columns)]
    save_rgb(path, np.vstack(rows))


def save_confusion_matrix(path, y_true, y_pred, class_names):
    size = max(4, 0.5 * len(class_names) + 2)
    figure, axis = plt.subplots(figsize=(size, size))
    ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, labels=list(range(len(class_names))), display_labels=class_names,
        ax=axis, colorbar=False, xticks_rotation="vertical")
    figure.tight_layout()
    atomic_write(path, lambda tmp: figure.savefig(tmp, dpi=100, format="png"))
    plt.close(figure)
