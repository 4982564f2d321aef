"""Every trainer, end to end on a small slice of its demo: with XLA
(--jit-compile), in mixed precision and with every export, whose model
reloads in a fresh process with the predictions the run recorded and whose
SavedModel runs with plain TensorFlow alone."""

import json
import os

import pandas as pd
import pytest

from tests.fresh_process import python_process
from tests.predictions import accuracy_from_predictions

# One worker runs this file and builds its fixture once (pytest-xdist: a module
# fixture is torn down whenever a worker waits for more tests, so it is session-scoped).
pytestmark = pytest.mark.xdist_group("test_trainers")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# ONNX and LiteRT conversions cost ~10 s each: the two-input model and the
# plain one; every trainer writes and checks its SavedModel.
EXPORTED = ("agnet", "common")
# name -> (module, demo, its own flags)
TRAINERS = {
    "common": ("common.train", "digits", ["--image-size", "16"]),
    "distraction": ("distraction.train", "digits", ["--image-size", "16", "--p", "1"]),
    "fsa": ("fsa.train", "where", ["--image-size", "64", "--fsa-stage1-epochs", "1",
                                   "--fsa-stage2-epochs", "0"]),
    "agnet": ("agnet.train", "fashion", ["--image-size", "32", "--num-primary", "2"]),
    "fam": ("fam.train", "wsol", ["--image-size", "32"]),
}


def _argv(name, tmp_path, small_demo, demo_settings, *flags):
    """(the trainer's module, its command line) for a run on a slice of its demo."""
    import importlib
    module, demo, own = TRAINERS[name]
    command = importlib.import_module(module).COMMAND
    data = small_demo(demo)
    argv = ["--data", data, "--config", demo_settings(command), "--epochs", "1",
            "--batch-size", "16", "--verbose", "0", "--output", str(tmp_path / name), *own,
            *flags]
    if name == "fsa":
        argv += ["--masks", os.path.join(os.path.dirname(data), "masks.npz")]
    return module, argv


# Trains each job {name: (module, argv)} of sys.argv[1] in this process, one
# after the other; prints their run folders as JSON.
TRAIN_RUNS = """
import importlib, json, sys
import keras
from common.training.entry import main
runs = {}
for name, (module, argv) in json.loads(sys.argv[1]).items():
    try:
        runs[name] = str(main(importlib.import_module(module).COMMAND, argv))
    finally:
        keras.mixed_precision.set_global_policy("float32")
print(json.dumps(runs))
"""


@pytest.fixture(scope="session")
def mixed_runs(built_once, small_demo, demo_settings):
    """Every trainer with --jit-compile --mixed-precision together: the train
    step compiles with XLA (AG-Net's region pooling has no CropAndResize)
    and the sub-layers run in float16."""
    # Keras compiles no XLA step while TensorFlow's op determinism is on, which
    # conftest turns on with TF_DETERMINISTIC_OPS and TensorFlow's public API
    # cannot turn off (the harness refuses a --jit-compile it cannot honour):
    # the runs train in a fresh process without the variable.
    def build(tmp_path):
        jobs = {name: _argv(name, tmp_path, small_demo, demo_settings, "--jit-compile",
                            "--mixed-precision",
                            *(["--export", "onnx,tflite"] if name in EXPORTED else []))
                for name in sorted(TRAINERS)}
        done = python_process("-c", TRAIN_RUNS, json.dumps(jobs), timeout=1200,
                              env={"TF_DETERMINISTIC_OPS": None,
                                   "AGNET_REGION_CACHE": str(tmp_path / "regions")})
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1]), str(tmp_path)
    runs, folder = built_once("mixed-runs", build)
    from pathlib import Path
    return runs, Path(folder)


@pytest.mark.parametrize("name", sorted(TRAINERS))
def test_xla_mixed_precision_run_trains(name, mixed_runs):
    run = mixed_runs[0][name]
    history = pd.read_csv(os.path.join(run, "history.csv"))
    assert len(history) == 1 and history["loss"].notna().all()
    metrics = json.loads(open(os.path.join(run, "metrics.json")).read())
    assert metrics["accuracy"] == pytest.approx(accuracy_from_predictions(run))


@pytest.mark.parametrize("name", sorted(TRAINERS))
def test_every_trainer_saves_its_network_itself(name, mixed_runs):
    """Methods are presets of guides (issue 39): each trainer trains a
    ``GuidedClassifier`` and its model.keras is the network it guided, a
    Keras functional model, whatever the method."""
    import zipfile
    from common.saving import read_config
    config = read_config(os.path.join(mixed_runs[0][name], "model.keras"))
    assert (config["class_name"], config["module"]) == ("Functional", "keras.src.models.functional")
    with zipfile.ZipFile(os.path.join(mixed_runs[0][name], "model.keras")) as archive:
        assert "GuidedClassifier" not in archive.read("config.json").decode()


@pytest.mark.parametrize("imports", ["each method's package", "common only"])
def test_mixed_precision_models_load_the_keras_way_in_a_fresh_process(imports, mixed_runs,
                                                                      run_python):
    """model.keras of every trainer loads with keras.saving.load_model in a
    fresh process after ``import <its package>`` (nothing of the toolkit
    imported before the first), or after ``import common`` alone, in float16,
    predicting predictions.csv."""
    runs, tmp_path = mixed_runs
    cases = {name: (run, int(TRAINERS[name][2][1])) for name, run in runs.items()}
    first = "import common" if imports == "common only" else ""
    run_python(f"""
{first}
import importlib, sys
import keras
assert not any(m.split(".")[0] in ("agnet", "fsa", "distraction", "fam") for m in sys.modules)
for name, (run, size) in {cases!r}.items():
    if {imports != "common only"!r}:
        importlib.import_module(name)
    model = keras.saving.load_model(run + "/model.keras")
    import numpy as np, pandas as pd, tensorflow as tf
    from common.data.pipeline import decode_image
    layers = [l for l in model.layers if hasattr(l, "compute_dtype")]
    assert any(l.compute_dtype == "float16" for l in layers), name
    table = pd.read_csv(run + "/predictions.csv")
    images = tf.stack([decode_image(p, (size, size)) for p in table["path"]])
    inputs = images
    if name == "agnet":
        from agnet.cache import compute_regions
        regions = compute_regions(list(table["path"]), size, 2, 0, r"{tmp_path / 'regions'}")
        inputs = {{"image": images, "regions": regions}}
    expected = table[[c for c in table if c.startswith("p_")]].to_numpy()
    np.testing.assert_allclose(model.predict(inputs, verbose=0), expected, rtol=1e-5,
                               atol=1e-6, err_msg=name)
""")


def _inputs_and_expected(name, run, regions_folder):
    """The run's test images as the harness fed them, and its predictions."""
    import numpy as np
    import tensorflow as tf

    from common.data.pipeline import decode_image
    size = int(TRAINERS[name][2][1])
    table = pd.read_csv(os.path.join(run, "predictions.csv"))
    inputs = {"image": tf.stack([decode_image(p, (size, size)) for p in table["path"]]).numpy()}
    if name == "agnet":
        from agnet.cache import compute_regions
        inputs["regions"] = np.asarray(compute_regions(list(table["path"]), size, 2, 0,
                                                       str(regions_folder)))
    return inputs, table[[c for c in table if c.startswith("p_")]].to_numpy()


def test_exports_match_keras_and_the_saved_model_needs_only_tensorflow(mixed_runs, tmp_path):
    import subprocess
    import sys

    import numpy as np
    runs, folder = mixed_runs
    cases = {}
    for name, run in runs.items():
        report = json.loads(open(os.path.join(run, "exports.json")).read())
        formats = {"saved_model", "onnx", "tflite"} if name in EXPORTED else {"saved_model"}
        assert set(report) == formats, name
        assert all(0 <= r["max_abs_difference"] <= 1e-4 and r["images_checked"] >= 1
                   for r in report.values()), (name, report)
        assert all(os.path.exists(os.path.join(run, r["path"])) for r in report.values())
        explain = [r["explain"] for r in report.values()]  # probabilities and heatmap
        if name == "agnet":  # two inputs: no explain outputs, and exports.json says why
            assert all("single-input" in e["unsupported"] for e in explain), explain
        else:
            assert all(e["max_abs_difference"] <= 1e-4 for e in explain), (name, explain)
        inputs, expected = _inputs_and_expected(name, run, folder / "regions")
        np.savez(tmp_path / f"{name}.npz", expected=expected, **inputs)
        cases[name] = (os.path.join(run, "saved_model"), str(tmp_path / f"{name}.npz"))
    code = f"""
import sys, numpy as np, tensorflow as tf

for name, (folder, arrays) in {cases!r}.items():
    arrays = dict(np.load(arrays))
    expected = arrays.pop("expected")
    serve = tf.saved_model.load(folder).signatures["serving_default"]
    names = set(serve.structured_input_signature[1])
    assert names == set(arrays), (name, names)
    got = next(iter(serve(**{{k: tf.constant(v) for k, v in arrays.items()}}).values())).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5, err_msg=name)
toolkit = {{"common", "agnet", "fsa", "distraction", "fam"}}
assert not toolkit & {{m.split(".")[0] for m in sys.modules}}
print("ok", len({cases!r}))
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "ok 5" in done.stdout, done.stderr[-3000:]
