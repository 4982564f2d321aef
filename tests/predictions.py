"""A run's test accuracy recomputed here, in NumPy, from the probabilities
its predictions.csv holds: what its metrics.json must say."""

import os

import numpy as np
import pandas as pd


def accuracy_from_predictions(run, multi_label=False):
    """The share of rows whose predicted classes are exactly their labels:
    the most probable class, or for multi-label every class at p >= 0.5
    (scikit-learn's subset accuracy)."""
    table = pd.read_csv(os.path.join(run, "predictions.csv"), dtype={"label": str},
                        keep_default_na=False)
    columns = [c for c in table if c.startswith("p_")]
    classes = np.array([c[len("p_"):] for c in columns])
    probabilities = table[columns].to_numpy(np.float64)
    if multi_label:
        predicted = [set(classes[row >= 0.5]) for row in probabilities]
    else:
        predicted = [{classes[i]} for i in probabilities.argmax(-1)]
    truth = [set(filter(None, label.split(";"))) for label in table["label"]]
    assert len(truth), f"{run}: predictions.csv has no rows"
    return float(np.mean([p == t for p, t in zip(predicted, truth)]))
