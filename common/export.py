"""Exports of a trained model that need none of the toolkit to run: a
TensorFlow SavedModel (plain TensorFlow), LiteRT (TFLite) and ONNX."""

import os

EXPORTS = ("saved_model", "tflite", "onnx")


def export_saved_model(network, folder):
    """A SavedModel with the signature ``serving_default`` (and the endpoint
    ``serve``) taking the model's named inputs: float32 images in [0, 1]
    (and AG-Net's regions). Loads with ``tf.saved_model.load``."""
    network.export(folder, format="tf_saved_model", verbose=False)
    return folder


def export_tflite(saved_model, path, builtin_only=True):
    """A LiteRT flatbuffer converted from a SavedModel; ``builtin_only``
    refuses models that would need the Flex (TensorFlow ops) delegate."""
    import tensorflow as tf
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS] + (
        [] if builtin_only else [tf.lite.OpsSet.SELECT_TF_OPS])
    with open(path, "wb") as handle:
        handle.write(converter.convert())
    return path


def tflite_predict(path, inputs):
    """Runs a LiteRT model on a dict (or array) of inputs, one image at a time
    (its signature has batch 1); returns the stacked outputs."""
    import numpy as np
    import tensorflow as tf
    interpreter = tf.lite.Interpreter(model_path=os.fspath(path))
    runner = interpreter.get_signature_runner()
    names = list(runner.get_input_details())
    if not isinstance(inputs, dict):
        inputs = {names[0]: inputs}
    count = len(next(iter(inputs.values())))
    outputs = []
    for i in range(count):
        result = runner(**{name: np.asarray(inputs[name][i:i + 1], np.float32)
                           for name in names})
        outputs.append(next(iter(result.values()))[0])
    return np.stack(outputs)
