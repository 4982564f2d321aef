"""AG-Net's model through the commands that explain and evaluate any
classifier, run as installed, as a newcomer runs them (no
TF_CPP_MIN_LOG_LEVEL): its regions come from each image file as its trainer
computes them, Grad-CAM reads its image branch, the region weights are a
map source, and what cannot be explained is refused before TensorFlow
loads."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pandas as pd
import pytest

BIN = os.path.dirname(sys.executable)
SIZE, PRIMARY = 32, 3


def _run(script, *args, env=None):
    clean = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([os.path.join(BIN, script), *map(str, args)],
                          env={**clean, **(env or {})}, capture_output=True, text=True,
                          timeout=600)


def _one_line(done):
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, (done.returncode, done.stderr[-3000:])
    return lines[0]


@pytest.fixture(scope="module")
def agnet_run(tmp_path_factory, small_demo):
    """A run folder of a small AG-Net (random weights, k = 3) and a demo
    CSV (10 test images, 32 px)."""
    from agnet.model import build_agnet
    from common.backbones import build_backbone
    folder = tmp_path_factory.mktemp("agnet-run")
    data = small_demo("digits", 3)
    classes = [str(i) for i in range(10)]
    model = build_agnet(build_backbone("tiny", (SIZE, SIZE, 3)), len(classes), PRIMARY)
    table = pd.read_csv(data, dtype=str)
    table = table[table["split"] == "test"]
    paths = [os.path.join(os.path.dirname(data), p) for p in table["path"]]
    rng = np.random.default_rng(0)  # regions of different weights
    importance = model.get_layer("region_importance")
    importance.set_weights([rng.normal(0, 3, w.shape).astype("float32")
                            for w in importance.get_weights()])
    # A head centred on these images' pooled features: predictions that differ.
    head = model.get_layer("classifier")
    pooled = keras.Model(model.inputs, head.input).predict(_inputs(paths), verbose=0)
    spread = pooled.std(axis=0)[:, None]
    kernel = np.where(spread > 1e-6, rng.normal(0, 1, head.kernel.shape) / np.maximum(
        spread, 1e-6), 0.0)
    head.set_weights([kernel.astype("float32"), -(pooled.mean(axis=0) @ kernel).astype(
        "float32")])
    model.save(folder / "model.keras")
    (folder / "classes.json").write_text(json.dumps(classes))
    (folder / "config.yaml").write_text(f"seed: 0\nnum_primary: {PRIMARY}\n")
    return folder, data, paths, table["label"].astype(int).to_numpy()


def _inputs(paths):
    """What the model's trainer feeds it, computed here: the pipeline's
    image and the regions of the file (SIFT + GMM on ``load_rgb``)."""
    from agnet.cache import load_rgb
    from agnet.regions import semantic_regions
    from common.data.pipeline import decode_image
    return {"image": np.stack([decode_image(p, (SIZE, SIZE)).numpy() for p in paths]),
            "regions": np.stack([semantic_regions(load_rgb(p, SIZE), PRIMARY, 0)
                                 for p in paths])}


def test_explain_is_grad_cam_through_the_image_branch(agnet_run, tmp_path):
    from common.cam import GradCAM
    folder, _, paths, _ = agnet_run
    paths = paths[:3]
    done = _run("attention-explain", "--model", folder / "model.keras", "--out",
                tmp_path / "out", "--save-maps", *paths,
                env={"AGNET_REGION_CACHE": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stderr[-3000:]
    assert not {"E0000", "W0000", "Traceback"} & set(done.stderr.split()), done.stderr
    model = keras.saving.load_model(folder / "model.keras")
    inputs = _inputs(paths)
    probabilities = model.predict(inputs, verbose=0)
    predicted = probabilities.argmax(-1)
    expected = GradCAM(model, "self_attention")(inputs, class_index=predicted).numpy()
    assert all(np.ptp(heat) > 0.5 for heat in expected)
    lines = done.stdout.strip().splitlines()
    for i, path in enumerate(paths):
        name = os.path.splitext(os.path.basename(path))[0]
        assert (tmp_path / "out" / f"{name}_gradcam.png").is_file()
        np.testing.assert_allclose(np.load(tmp_path / "out" / f"{name}_gradcam.npy"),
                                   expected[i], atol=1e-5)
        assert lines[i] == (f"{path}: predicted {predicted[i]} "
                            f"({probabilities[i, predicted[i]]:.3f}); map of {predicted[i]} -> "
                            f"{tmp_path / 'out' / name}_gradcam.png")


def _painted(weights, boxes):
    """The region-weight maps in NumPy: each box's weight over its pixels
    (pixel i at i / (size - 1)), the whole image's everywhere, min-max
    normalised."""
    grid = np.arange(SIZE) / (SIZE - 1)
    maps = np.zeros((len(boxes), SIZE, SIZE))
    for i, (image_boxes, image_weights) in enumerate(zip(boxes, weights)):
        for (y1, x1, y2, x2), weight in zip(image_boxes, image_weights):
            maps[i] += weight * np.outer((grid >= y1) & (grid <= y2),
                                         (grid >= x1) & (grid <= x2))
        maps[i] += image_weights[-1]
        maps[i] = (maps[i] - maps[i].min()) / np.ptp(maps[i])
    return maps.astype("float32")


def test_evaluate_scores_the_model_as_agnet_predict_sees_it(agnet_run, tmp_path, monkeypatch,
                                                           capsys):
    from agnet.inputs import region_weights
    from agnet.predict import predict
    from common.explanation_metrics import deletion
    from common.training.metrics import prediction_metrics
    folder, data, paths, labels = agnet_run
    monkeypatch.setenv("AGNET_REGION_CACHE", str(tmp_path / "cache"))
    done = _run("attention-evaluate", "--model", folder / "model.keras", "--data", data,
                "--out", tmp_path / "eval", "--maps", "gradcam,regions", "--steps", "4",
                "--batch-size", "4", "--pictures", "2", "--verbose", "0")
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr[-3000:]
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert len(list((tmp_path / "eval").glob("*.png"))) == 2
    model = keras.saving.load_model(folder / "model.keras")
    probabilities = predict(model, paths, settings={"seed": 0, "num_primary": PRIMARY},
                            verbose=0)
    predicted = probabilities.argmax(-1)
    assert len(set(predicted)) > 1  # a classifier, not a constant
    expected = prediction_metrics(labels, predicted, [str(i) for i in range(10)])
    assert metrics["images"] == len(paths) == 10
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value), key
    # Every curve starts from the prediction, made with each image's own regions.
    inputs = _inputs(paths)
    np.testing.assert_allclose(probabilities, model.predict(inputs, verbose=0), atol=1e-6)
    chosen = probabilities[np.arange(len(paths)), predicted]
    for source in ("gradcam", "regions"):
        assert metrics["maps"][source]["deletion_curve"][0] == pytest.approx(chosen.mean(),
                                                                             abs=1e-5)
    # The region-weight maps, painted here, deleted image by image.
    maps = _painted(np.asarray(region_weights(model, inputs)), inputs["regions"])
    aucs = [deletion(lambda x, i=i: model({"image": x, "regions": keras.ops.repeat(
        inputs["regions"][i:i + 1], len(x), axis=0)}, training=False),
        inputs["image"][i:i + 1], maps[i:i + 1], class_index=predicted[i:i + 1],
        steps=4)["deletion_auc"].numpy()[0] for i in range(len(paths))]
    assert metrics["maps"]["regions"]["deletion_auc"] == pytest.approx(np.mean(aucs), abs=1e-5)
    assert metrics["maps"]["regions"]["deletion_auc"] != pytest.approx(
        metrics["maps"]["gradcam"]["deletion_auc"], abs=1e-4)


def test_what_cannot_be_explained_is_refused_before_tensorflow_loads(agnet_run, tmp_path):
    """A TensorFlow that cannot be imported sits first on the path: each
    refusal must come before anything imports it."""
    folder, data, paths, _ = agnet_run
    image, extra = keras.Input((8, 8, 3), name="image"), keras.Input((4,), name="extra")
    joined = keras.layers.Concatenate()([keras.layers.GlobalAveragePooling2D()(image), extra])
    keras.Model({"image": image, "extra": extra},
                keras.layers.Dense(10, activation="softmax")(joined)).save(tmp_path / "two.keras")
    (tmp_path / "classes.json").write_text(json.dumps([str(i) for i in range(10)]))
    poisoned = tmp_path / "poisoned" / "tensorflow"
    poisoned.mkdir(parents=True)
    (poisoned / "__init__.py").write_text("raise ImportError('TensorFlow was imported')\n")
    env = {"PYTHONPATH": str(tmp_path / "poisoned")}
    for script, more in (("attention-explain", [paths[0]]),
                         ("attention-evaluate", ["--data", data])):
        line = _one_line(_run(script, "--model", tmp_path / "two.keras", "--out",
                              tmp_path / "out", *more, env=env))
        assert line == (f"{script}: error: --model: '{tmp_path / 'two.keras'}' takes 2 inputs "
                        "(image, extra) and no installed package computes them from an image "
                        "(entry-point group attention_guided.model_inputs): only image "
                        "classifiers are explained"), line
    line = _one_line(_run("attention-evaluate", "--model", folder / "model.keras", "--data",
                          data, "--out", tmp_path / "out", "--maps", "gradcam,scorecam",
                          env=env))
    assert "--maps: expected a comma-separated list of ['gradcam', 'gradcampp', 'layercam', " \
           "'xgradcam', 'regions'] (the sources this model offers), got " \
           "'gradcam,scorecam'" in line, line
    assert not (tmp_path / "out").exists()
