"""Shared by the shortcut guides' tests: a small CSV of images with a mask
column, the installed ``attention-train`` run on it at 16 px, and a
stride-1 CAM network whose CAM grid is the image's (so a guide's term can
be written in NumPy from features @ kernel + bias)."""

import os
import subprocess
import sys

import cv2
import keras
import numpy as np
import pandas as pd

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def annotated_csv(folder, column, draw, with_column=True, seed=0):
    """24 random 16 px images of classes a/b (train, train, val, test), each
    with a mask PNG ``draw(index) -> (16, 16) uint8`` named in ``column``."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(24):
        cv2.imwrite(str(folder / f"{i}.png"), (rng.random((16, 16, 3)) * 255).astype(np.uint8))
        cv2.imwrite(str(folder / f"{i}_{column}.png"), draw(i))
        rows.append({"path": f"{i}.png", "label": "ab"[i % 2],
                     "split": ["train", "train", "val", "test"][i % 4],
                     **({column: f"{i}_{column}.png"} if with_column else {})})
    path = folder / "data.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def tiny_train(*args):
    """The installed attention-train, tiny backbone, 16 px, one epoch."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([os.path.join(os.path.dirname(sys.executable), "attention-train"),
                           "--backbone", "tiny", "--weights", "none", "--image-size", "16",
                           "--batch-size", "8", "--epochs", "1", "--verbose", "0",
                           "--at-chance", "warn", *map(str, args)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)


def stride_one_network(size, classes, filters, seed):
    """image -> 3x3 conv (ReLU, "features", stride 1) -> GAP -> Dense softmax."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 3))
    features = keras.layers.Conv2D(filters, 3, padding="same", activation="relu",
                                   name="features")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    return keras.Model(inputs, keras.layers.Dense(classes, activation="softmax")(pooled))
