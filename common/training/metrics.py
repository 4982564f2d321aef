"""Classification metrics for metrics.json (scikit-learn)."""

import numpy as np
from sklearn.metrics import accuracy_score, precision_recall_fscore_support, recall_score


def classification_metrics(y_true, probabilities, class_names, multi_label=False):
    """Accuracy, macro and weighted precision/recall/F1 and the per-class
    true positive rate. ``y_true``: int (N,) or multi-hot (N, C);
    multi-label predictions threshold the sigmoid outputs at 0.5."""
    probabilities = np.asarray(probabilities)
    y_pred = (probabilities >= 0.5).astype(int) if multi_label else probabilities.argmax(-1)
    return prediction_metrics(y_true, y_pred, class_names, multi_label)


def prediction_metrics(y_true, y_pred, class_names, multi_label=False):
    """``classification_metrics`` from the predicted classes (N,) (or
    multi-hot predictions (N, C)), e.g. collected batch by batch."""
    labels = None if multi_label else list(range(len(class_names)))
    result = {"accuracy": float(accuracy_score(y_true, y_pred)), "num_images": len(y_pred)}
    for average in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels,
                                                     average=average, zero_division=0)
        result.update({f"precision_{average}": float(p), f"recall_{average}": float(r),
                       f"f1_{average}": float(f)})
    tpr = recall_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    result["true_positive_rate"] = {name: float(v) for name, v in zip(class_names, tpr)}
    return result
