"""The exports of a run folder: always a SavedModel (plain TensorFlow loads
it), with ``--export`` also ONNX and LiteRT; each is run on test images and
compared with the Keras model before the run counts as finished, its
``explain`` outputs (``common.export_explain``) too where it holds them."""

import importlib.util
import os
import re
import shutil

import numpy as np

from common.export import (export_onnx, export_onnx_explain, export_saved_model,
                           export_tflite, float32_copy, onnx_explain, onnx_predict, tflite_run)
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


def _saved_model_explain(folder, images):
    import tensorflow as tf
    explain = tf.saved_model.load(folder).signatures["explain"]
    name = next(iter(explain.structured_input_signature[1]))
    return {k: v.numpy() for k, v in explain(**{name: tf.constant(images, tf.float32)}).items()}


def _explain_how(network):
    """"forward" or "gradients" (``common.export_explain``), or why none."""
    from common.export_explain import ExplainUnsupported, explainer
    try:
        return explainer(network)[1], None
    except ExplainUnsupported as error:
        return None, str(error)


def _difference(got, expected):
    return float(max(np.abs(np.asarray(got[k], np.float32) - expected[k]).max()
                     for k in expected))


def write_exports(network, run, formats, inputs, verbose=1):
    """Writes RUN/saved_model (and RUN/model.onnx, RUN/model.tflite, with
    RUN/explain.onnx and RUN/explain.tflite for their explain outputs) and
    RUN/exports.json with each one's max abs difference from the Keras
    model on ``inputs`` (an array or AG-Net's dict of arrays), and under
    ``explain`` that of its explain outputs, or why it has none; a progress
    bar of the steps unless ``verbose=0``."""
    from common.export_explain import describe, keras_reference
    from common.progress import bar
    steps = bar(total=len(formats) + 2, desc="exports", verbose=verbose, unit="step")
    inputs = ({k: np.asarray(v, np.float32) for k, v in inputs.items()}
              if isinstance(inputs, dict) else np.asarray(inputs, np.float32))
    expected = np.asarray(network.predict(inputs, verbose=0), np.float32)
    how, why_not = _explain_how(network)
    explained = keras_reference(network, inputs) if how else None
    # LiteRT (no float16 Conv2D builtin) and the explain graphs of ONNX (onnxruntime's
    # float16 kernels round differently) take a mixed-precision model's float32 copy.
    lite = float32_copy(network) if {"onnx", "tflite"} & set(formats) else network
    lite_explained = explained if lite is network or not how else keras_reference(lite, inputs)
    steps.set_postfix_str("saved_model")
    saved = export_saved_model(network, os.path.join(run, "saved_model"))
    steps.update(1)
    paths = {"saved_model": saved}
    runners = {"saved_model": lambda: _saved_model_predict(saved, inputs)}
    references = {"saved_model": expected}
    explains = {"saved_model": (lambda: _saved_model_explain(saved, inputs), explained,
                                "saved_model (signature explain)") if how else why_not}
    if "onnx" in formats:
        steps.set_postfix_str("onnx")
        paths["onnx"] = export_onnx(network, os.path.join(run, "model.onnx"))
        runners["onnx"] = lambda: onnx_predict(paths["onnx"], inputs)
        references["onnx"] = expected
        explains["onnx"] = why_not
        if how:
            onnx_file = os.path.join(run, "explain.onnx")
            export_onnx_explain(lite, onnx_file)
            explains["onnx"] = (lambda: onnx_explain(onnx_file, inputs), lite_explained,
                                "explain.onnx")
        steps.update(1)
    if "tflite" in formats:
        steps.set_postfix_str("tflite")
        source = saved if lite is network else export_saved_model(
            lite, os.path.join(run, "saved_model_float32"))
        paths["tflite"], explains["tflite"] = _tflite(source, os.path.join(
            run, "model.tflite"), inputs, how, why_not, lite_explained)
        if source != saved:
            shutil.rmtree(source)
        runners["tflite"] = lambda: next(iter(tflite_run(paths["tflite"], inputs).values()))
        references["tflite"] = expected if lite is network else np.asarray(
            lite.predict(inputs, verbose=0), np.float32)
        steps.update(1)
    steps.set_postfix_str("checking each against Keras")
    report = {}
    for name, run_it in runners.items():
        difference = float(np.abs(np.asarray(run_it(), np.float32) - references[name]).max())
        report[name] = {"path": os.path.relpath(paths[name], run),
                        "max_abs_difference": difference, "images_checked": len(expected)}
        if isinstance(explains[name], tuple):
            run_explain, reference, where = explains[name]
            report[name]["explain"] = {"path": where, "heatmap": describe(how),
                                       "max_abs_difference": _difference(run_explain(),
                                                                         reference)}
        else:
            report[name]["explain"] = {"unsupported": explains[name]}
    steps.update(1)
    steps.close()
    write_json(os.path.join(run, "exports.json"), report)
    bad = {k: v["max_abs_difference"] for k, v in report.items()
           if not v["max_abs_difference"] <= TOLERANCE}
    bad.update({f"{k} explain": v["explain"]["max_abs_difference"] for k, v in report.items()
                if not v["explain"].get("max_abs_difference", 0.0) <= TOLERANCE})
    if bad:
        raise ExportError(f"exports differ from the Keras model by more than {TOLERANCE}: "
                          f"{bad} (see exports.json)")
    return report


def _tflite(source, path, inputs, how, why_not, reference):
    """(path, explain runner and reference or why none) of the LiteRT
    export, and beside it explain.tflite (the SavedModel's ``explain``
    signature) when the converter has builtins for its graph."""
    export_tflite(source, path)
    if not how:
        return path, why_not
    explain = os.path.join(os.path.dirname(path), "explain.tflite")
    try:
        export_tflite(source, explain, signatures=("explain",))
    except Exception as error:  # the converter's own error types; it names the ops
        ops = re.search(r"TF Select ops: ([^\n]+)", str(error))
        return path, ("LiteRT has no builtin for " + (ops.group(1).strip() if ops else
                      "an op") + " of its Grad-CAM gradient graph (the SavedModel and "
                      "explain.onnx hold the explain outputs)")
    return path, (lambda: tflite_run(explain, inputs, "explain"), reference, "explain.tflite")
