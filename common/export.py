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
    try:  # LiteRT's own runtime (the export extra); TensorFlow's copy is deprecated
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf
        Interpreter = tf.lite.Interpreter
    interpreter = Interpreter(model_path=os.fspath(path))
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


def _input_specs(network):
    import tensorflow as tf
    return [tf.TensorSpec((None, *tensor.shape[1:]), tf.float32, name=tensor.name)
            for tensor in network.inputs]


def export_onnx(network, path, opset=17):
    """An ONNX model (tf2onnx, the ``export`` extra) whose inputs carry the
    Keras model's input names; runs with onnxruntime."""
    import tensorflow as tf
    import tf2onnx
    specs = _input_specs(network)

    @tf.function(input_signature=specs)
    def serve(*inputs):
        if len(inputs) == 1:
            return network(inputs[0], training=False)
        return network({spec.name: x for spec, x in zip(specs, inputs)}, training=False)

    tf2onnx.convert.from_function(serve, input_signature=specs, opset=opset,
                                  output_path=os.fspath(path))
    return path


def onnx_predict(path, inputs):
    """Runs an ONNX model with onnxruntime on a dict (or array) of inputs."""
    import numpy as np
    import onnxruntime
    session = onnxruntime.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    names = [node.name for node in session.get_inputs()]
    if not isinstance(inputs, dict):
        inputs = {names[0]: inputs}
    return session.run(None, {name: np.asarray(inputs[name], np.float32) for name in names})[0]


def _float32_policies(config):
    """The config with every mixed dtype policy replaced by float32."""
    if isinstance(config, dict):
        if config.get("class_name") in ("DTypePolicy", "FloatDTypePolicy") and str(
                config.get("config", {}).get("name", "")).startswith("mixed_"):
            return {**config, "config": {**config["config"], "name": "float32"}}
        return {k: _float32_policies(v) for k, v in config.items()}
    if isinstance(config, list):
        return [_float32_policies(v) for v in config]
    return config


def float32_copy(network):
    """The same model computing in float32 (its weights are float32 under a
    mixed policy already): LiteRT's builtin kernels have no float16 Conv2D.
    Returns ``network`` itself when it computes in float32."""
    import keras
    original = keras.saving.serialize_keras_object(network)
    config = _float32_policies(original)
    if config == original:
        return network
    copy = keras.saving.deserialize_keras_object(config)
    copy.set_weights(network.get_weights())
    return copy
