"""Exports of a trained model that need none of the toolkit to run: a
TensorFlow SavedModel (plain TensorFlow), LiteRT (TFLite) and ONNX, each
with the ``explain`` outputs of ``common.export_explain`` where the format
can hold them."""

import os

from common.io import atomic_write, atomic_write_folder

EXPORTS = ("saved_model", "tflite", "onnx")


def export_saved_model(network, folder, explain=True):
    """A SavedModel with the signature ``serving_default`` (and the endpoint
    ``serve``) taking the model's named inputs: float32 images in [0, 1]
    (and AG-Net's regions). A single-input classifier also gets the
    signature ``explain`` (``common.export_explain``): ``probabilities``
    and ``heatmap``. Loads with ``tf.saved_model.load``."""
    from common.export_explain import ExplainUnsupported, explainer, input_spec
    try:
        function = explainer(network)[0] if explain else None
    except ExplainUnsupported:
        function = None
    if function is None:
        write = lambda tmp: network.export(tmp, format="tf_saved_model", verbose=False)  # noqa
    else:
        import keras
        archive = keras.export.ExportArchive()
        archive.track_and_add_endpoint("serve", network, [input_spec(network)])
        archive.add_endpoint("explain", function, [input_spec(network)])
        write = lambda tmp: archive.write_out(tmp, verbose=False)  # noqa: E731
    atomic_write_folder(folder, write)
    return folder


def export_tflite(saved_model, path, builtin_only=True, signatures=None):
    """A LiteRT flatbuffer converted from a SavedModel (one of its
    ``signatures``, e.g. ("explain",); default serving_default);
    ``builtin_only`` refuses models that would need the Flex (TensorFlow
    ops) delegate."""
    import tensorflow as tf
    converter = tf.lite.TFLiteConverter.from_saved_model(
        saved_model, signature_keys=list(signatures) if signatures else None)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS] + (
        [] if builtin_only else [tf.lite.OpsSet.SELECT_TF_OPS])
    flatbuffer = converter.convert()  # before the file exists: a kill leaves none

    def write(tmp):
        with open(tmp, "wb") as handle:
            handle.write(flatbuffer)
    atomic_write(path, write)
    return path


def tflite_run(path, inputs, signature="serving_default"):
    """Runs one signature of a LiteRT model on a dict (or array) of inputs,
    one image at a time (its signatures have batch 1); returns its outputs
    by name, stacked."""
    import numpy as np
    try:  # LiteRT's own runtime (the export extra); TensorFlow's copy is deprecated
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf
        Interpreter = tf.lite.Interpreter
    interpreter = Interpreter(model_path=os.fspath(path))
    runner = interpreter.get_signature_runner(
        signature if signature in interpreter.get_signature_list() else None)
    names = list(runner.get_input_details())
    if not isinstance(inputs, dict):
        inputs = {names[0]: inputs}
    count = len(next(iter(inputs.values())))
    outputs = {}
    for i in range(count):
        result = runner(**{name: np.asarray(inputs[name][i:i + 1], np.float32)
                           for name in names})
        for name, value in result.items():
            outputs.setdefault(name, []).append(value[0])
    return {name: np.stack(values) for name, values in outputs.items()}


def tflite_predict(path, inputs):
    """The classification output of a LiteRT model (``tflite_run``)."""
    return next(iter(tflite_run(path, inputs).values()))


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

    atomic_write(os.fspath(path), lambda tmp: tf2onnx.convert.from_function(
        serve, input_signature=specs, opset=opset, output_path=tmp))
    return path


def export_onnx_explain(network, path, opset=17):
    """An ONNX model of the ``explain`` outputs alone (``common.export_explain``):
    input the image, outputs ``probabilities`` and ``heatmap``. A CAM head
    takes any batch; Grad-CAM through gradients takes one image at a time.
    Returns how the heatmap is computed ("forward" or "gradients")."""
    import onnx
    import tensorflow as tf
    import tf2onnx

    from common.export_explain import OUTPUTS, explainer, input_spec
    explain, how = explainer(network)
    spec = input_spec(network, batch=None if how == "forward" else 1)

    @tf.function(input_signature=[spec])
    def serve(image):
        outputs = explain(image)
        return tuple(outputs[name] for name in OUTPUTS)

    model, _ = tf2onnx.convert.from_function(serve, input_signature=[spec], opset=opset)
    renamed = {output.name: name for output, name in zip(model.graph.output, OUTPUTS)}
    for node in model.graph.node:
        node.output[:] = [renamed.get(n, n) for n in node.output]
        node.input[:] = [renamed.get(n, n) for n in node.input]
    for output in model.graph.output:
        output.name = renamed[output.name]
    atomic_write(os.fspath(path), lambda tmp: onnx.save(model, tmp))
    return how


def onnx_explain(path, images):
    """Runs an ``export_onnx_explain`` model (image by image when its batch
    is fixed at 1); returns ``probabilities`` and ``heatmap``."""
    import numpy as np
    import onnxruntime
    session = onnxruntime.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    tensor = session.get_inputs()[0]
    names = [output.name for output in session.get_outputs()]
    images = np.asarray(images, np.float32)
    step = 1 if tensor.shape[0] == 1 else len(images)
    parts = [session.run(names, {tensor.name: images[i:i + step]})
             for i in range(0, len(images), step)]
    return {name: np.concatenate([part[k] for part in parts]) for k, name in enumerate(names)}


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
