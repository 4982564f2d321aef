"""The exports' ``explain`` outputs: probabilities and the top class's
Grad-CAM heatmap, forward for CAM heads (equal to Grad-CAM through its
gradients), through the gradients otherwise; each export matches Keras and
loads in a process that imports only TensorFlow, onnxruntime and LiteRT."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from common.backbones import build_backbone
from common.cam import GradCAM
from common.classifier import build_cam_classifier
from common.export_explain import ExplainUnsupported, explainer
from common.training.run_exports import write_exports
from fam.model import build_fam

SIZE = 32


def _conv_head(classes=4):
    """A 1x1 conv CAM -> ReLU -> GAP -> softmax head (FSA's, SqueezeNet's)."""
    image = keras.Input((SIZE, SIZE, 3), name="image")
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(image)
    x = keras.layers.Conv2D(classes, 1, name="cam")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(image, keras.layers.Softmax()(x))


def _logits_sequential(classes=4):
    return keras.Sequential([keras.Input((SIZE, SIZE, 3)),
                             keras.layers.Conv2D(8, 3, activation="relu"),
                             keras.layers.GlobalAveragePooling2D(),
                             keras.layers.Dropout(0.2), keras.layers.Dense(classes)])


def _images(count=4):
    return np.random.default_rng(1).random((count, SIZE, SIZE, 3)).astype("float32")


def _dense_head():
    return build_cam_classifier(build_backbone("tiny", (SIZE, SIZE, 3)), 4)


@pytest.mark.parametrize("build", [_dense_head, _conv_head, _logits_sequential])
def test_a_cam_head_explains_forward_with_gradcams_heatmap(build):
    network = build()
    for layer in network.layers:  # non-trivial biases, so leaving them out matters
        if getattr(layer, "bias", None) is not None:
            layer.bias.assign(np.random.default_rng(2).normal(size=layer.bias.shape))
    images = _images()
    explain, how = explainer(network)
    outputs = explain(tf.constant(images))
    assert how == "forward"
    expected = GradCAM(network)(images).numpy()
    np.testing.assert_allclose(outputs["heatmap"].numpy(), expected, atol=1e-5)
    assert (expected.max(axis=(1, 2)) > 0.99).sum() >= 2  # maps, not zeros: it can fail
    scores = network.predict(images, verbose=0)
    if build is _logits_sequential:
        scores = tf.nn.softmax(scores).numpy()
    np.testing.assert_allclose(outputs["probabilities"].numpy(), scores, atol=1e-6)


def test_a_two_input_model_has_no_explain_outputs():
    image, extra = keras.Input((SIZE, SIZE, 3)), keras.Input((2,))
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(image))
    network = keras.Model([image, extra], keras.layers.Dense(2)(
        keras.layers.Concatenate()([pooled, extra])))
    with pytest.raises(ExplainUnsupported, match="single-input"):
        explainer(network)


def test_exports_explain_like_keras_in_a_process_without_the_toolkit(tmp_path):
    """A plain CAM classifier (forward: every format) and FAM (Grad-CAM's
    gradients: SavedModel and ONNX; LiteRT lacks a builtin and says so)."""
    images = _images(3)
    networks = {"plain": build_cam_classifier(build_backbone("tiny", (SIZE, SIZE, 3)), 4),
                "fam": build_fam(build_backbone("tiny", (SIZE, SIZE, 3)), 4).network}
    cases = {}
    for name, network in networks.items():
        run = tmp_path / name
        run.mkdir()
        write_exports(network, str(run), ("onnx", "tflite"), images, verbose=0)
        report = json.loads((run / "exports.json").read_text())
        explained = {k: v["explain"] for k, v in report.items()}
        supported = {k for k, v in explained.items() if "max_abs_difference" in v}
        assert supported == ({"saved_model", "onnx", "tflite"} if name == "plain"
                             else {"saved_model", "onnx"}), explained
        assert all(explained[k]["max_abs_difference"] <= 1e-4 for k in supported)
        if name == "fam":
            assert "BroadcastGradientArgs" in explained["tflite"]["unsupported"]
            assert "through its gradients" in explained["onnx"]["heatmap"]
        # The reference: Keras's own Grad-CAM and predictions, not the export code.
        np.savez(tmp_path / f"{name}.npz", images=images,
                 probabilities=network.predict(images, verbose=0),
                 heatmap=GradCAM(network)(images).numpy())
        cases[name] = (str(run), str(tmp_path / f"{name}.npz"), sorted(supported))
    code = f"""
import os, sys
import numpy as np
import onnxruntime
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

for name, (run, arrays, formats) in {cases!r}.items():
    arrays = dict(np.load(arrays))
    images = arrays.pop("images")
    got = {{}}
    explain = tf.saved_model.load(os.path.join(run, "saved_model")).signatures["explain"]
    got["saved_model"] = {{k: v.numpy() for k, v in explain(image=tf.constant(images)).items()}}
    session = onnxruntime.InferenceSession(os.path.join(run, "explain.onnx"))
    names = [o.name for o in session.get_outputs()]
    parts = [session.run(names, {{"image": images[i:i + 1]}}) for i in range(len(images))]
    got["onnx"] = {{n: np.concatenate([p[k] for p in parts]) for k, n in enumerate(names)}}
    if "tflite" in formats:
        runner = Interpreter(os.path.join(run, "explain.tflite")).get_signature_runner("explain")
        parts = [runner(image=images[i:i + 1]) for i in range(len(images))]
        got["tflite"] = {{k: np.concatenate([p[k] for p in parts]) for k in parts[0]}}
    assert sorted(got) == formats, (name, sorted(got))
    for fmt, outputs in got.items():
        assert sorted(outputs) == ["heatmap", "probabilities"], (name, fmt, sorted(outputs))
        for key, value in outputs.items():
            np.testing.assert_allclose(value, arrays[key], atol=1e-4, err_msg=name + fmt + key)
toolkit = {{"common", "agnet", "fsa", "distraction", "fam"}}
assert not toolkit & {{m.split(".")[0] for m in sys.modules}}
print("ok", len({cases!r}))
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "ok 2" in done.stdout, done.stderr[-3000:]
