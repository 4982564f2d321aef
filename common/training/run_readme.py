"""``RUN/README.txt``: a run folder that explains itself, naming the command
and version that made it and what each of its files holds."""

import datetime
import os

import common
from common.io import write_text

FILES = {
    "config.yaml": "the resolved settings (flags > --config > defaults), the data "
                   "included",
    "classes.json": "the class names, in the order of the model's outputs",
    "history.csv": "loss and metrics of every epoch (training and validation)",
    "tensorboard": "TensorBoard logs: scalars, CAM pictures, settings and test metrics",
    "cams": "Grad-CAM pictures of fixed validation images after each epoch",
    "backup": "weights and optimizer state of the last finished epoch (--resume)",
    "best.json": "the epoch kept by --keep best and its validation metric",
    "best.weights.h5": "the weights of that epoch (what model.keras holds at the end)",
    "model.keras": "the deployable model: `import common; keras.saving.load_model(path)` "
                   "(a file from elsewhere: common.saving.load_model, which checks it)",
    "saved_model": "the same model as a TensorFlow SavedModel (plain TensorFlow serves it; "
                   "signature explain: probabilities and the top class's Grad-CAM heatmap)",
    "model.onnx": "the same model for ONNX Runtime",
    "model.tflite": "the same model for LiteRT",
    "explain.onnx": "probabilities and the top class's Grad-CAM heatmap, for ONNX Runtime",
    "explain.tflite": "probabilities and the top class's Grad-CAM heatmap, for LiteRT",
    "exports.json": "each export's largest difference from the Keras model on test images "
                    "(its explain outputs' too, or why it has none)",
    "metrics.json": "test metrics: accuracy, precision, recall, F1 and the method's own",
    "predictions.csv": "each evaluated image: true label, predicted class, probabilities",
    "confusion_matrix.png": "the confusion matrix (counts and row-normalised)",
    "FAILED": "why the run failed: its model and metrics are not to be trusted",
}


def write_run_readme(run, method, command_line):
    """(Re)writes ``run/README.txt`` for the files the folder holds now."""
    present = [name for name in FILES if os.path.exists(os.path.join(run, name))]
    width = max(map(len, present), default=0) + 2
    lines = [f"Run folder of {method} (attention-guided {common.__version__}), "
             f"{datetime.datetime.now().isoformat(timespec='seconds')}.",
             f"Made by: {command_line}", "",
             *[f"{name.ljust(width)}{FILES[name]}" for name in present], ""]
    if "FAILED" in present:
        lines.insert(0, "THIS RUN FAILED: see FAILED.\n")
    write_text(os.path.join(run, "README.txt"), "\n".join(lines))
