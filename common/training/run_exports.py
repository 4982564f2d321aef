"""The exports of a run folder: always a SavedModel (plain TensorFlow loads
it), with ``--export`` also ONNX and LiteRT; each is run on test images and
compared with the Keras model before the run counts as finished."""

import importlib.util
import os
import shutil

import numpy as np

from common.export import (export_onnx, export_saved_model, export_tflite, float32_copy,
                           onnx_predict, tflite_predict)
from common.io import write_json

FORMATS = ("onnx", "tflite")
# What each format needs beyond the toolkit (pip install 'attention-guided[export]').
EXTRAS = {"onnx": ("tf2onnx", "onnxruntime"), "tflite": ("ai_edge_litert",)}
TOLERANCE = 1e-4  # max abs difference of probabilities


class ExportError(RuntimeError):
    """An export that does not reproduce the Keras model's predictions."""


def parse_formats(text):
    """``"onnx,tflite"`` -> ("onnx", "tflite"); ValueError names what is
    wrong (an unknown format, a missing extra), for a one-line CLI error."""
    formats = tuple(dict.fromkeys(f.strip() for f in str(text or "none").split(",")
                                  if f.strip() and f.strip() != "none"))
    for name in formats:
        if name not in FORMATS:
            raise ValueError(f"--export: expected a comma-separated list of {list(FORMATS)} "
                             f"or none, got {name!r}")
        missing = [m for m in EXTRAS[name] if importlib.util.find_spec(m) is None]
        if missing:
            raise ValueError(f"--export {name} needs {', '.join(missing)} (the export extra): "
                             "pip install 'attention-guided[export]'")
    return formats


def _saved_model_predict(folder, inputs):
    import tensorflow as tf
    serve = tf.saved_model.load(folder).signatures["serving_default"]
    if not isinstance(inputs, dict):
        name = next(iter(serve.structured_input_signature[1]))
        inputs = {name: inputs}
    outputs = serve(**{k: tf.constant(v, tf.float32) for k, v in inputs.items()})
    return next(iter(outputs.values())).numpy()


def write_exports(network, run, formats, inputs, verbose=1):
    """Writes RUN/saved_model (and RUN/model.onnx, RUN/model.tflite) and
    RUN/exports.json with each one's max abs difference from the Keras
    model on ``inputs`` (an array or AG-Net's dict of arrays); a progress
    bar of the steps unless ``verbose=0``."""
    from common.progress import bar
    steps = bar(total=len(formats) + 2, desc="exports", verbose=verbose, unit="step")
    inputs = ({k: np.asarray(v, np.float32) for k, v in inputs.items()}
              if isinstance(inputs, dict) else np.asarray(inputs, np.float32))
    expected = np.asarray(network.predict(inputs, verbose=0), np.float32)
    steps.set_postfix_str("saved_model")
    saved = export_saved_model(network, os.path.join(run, "saved_model"))
    steps.update(1)
    paths = {"saved_model": saved}
    runners = {"saved_model": lambda: _saved_model_predict(saved, inputs)}
    references = {"saved_model": expected}
    if "onnx" in formats:
        steps.set_postfix_str("onnx")
        paths["onnx"] = export_onnx(network, os.path.join(run, "model.onnx"))
        steps.update(1)
        runners["onnx"] = lambda: onnx_predict(paths["onnx"], inputs)
        references["onnx"] = expected
    if "tflite" in formats:  # a mixed-precision model goes to LiteRT as its float32 copy
        steps.set_postfix_str("tflite")
        lite = float32_copy(network)
        source = saved if lite is network else export_saved_model(
            lite, os.path.join(run, "saved_model_float32"))
        paths["tflite"] = export_tflite(source, os.path.join(run, "model.tflite"))
        if source != saved:
            shutil.rmtree(source)
        runners["tflite"] = lambda: tflite_predict(paths["tflite"], inputs)
        references["tflite"] = expected if lite is network else np.asarray(
            lite.predict(inputs, verbose=0), np.float32)
        steps.update(1)
    steps.set_postfix_str("checking each against Keras")
    report = {}
    for name, run_it in runners.items():
        difference = float(np.abs(np.asarray(run_it(), np.float32) - references[name]).max())
        report[name] = {"path": os.path.relpath(paths[name], run),
                        "max_abs_difference": difference, "images_checked": len(expected)}
    steps.update(1)
    steps.close()
    write_json(os.path.join(run, "exports.json"), report)
    bad = {k: v["max_abs_difference"] for k, v in report.items()
           if not v["max_abs_difference"] <= TOLERANCE}
    if bad:
        raise ExportError(f"exports differ from the Keras model by more than {TOLERANCE}: "
                          f"{bad} (see exports.json)")
    return report
