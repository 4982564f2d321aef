"""Test set-up: quiet TensorFlow, two logical CPU devices for MirroredStrategy,
and a fixed seed per test."""

import os

import tempfile

# Quiet TensorFlow in the test processes only: the commands that tests start
# must see the environment a user's shell has (without the variable they
# keep TensorFlow's start-up lines off stderr themselves: common.commandline.quiet,
# and on CPUs where oneDNN is on those lines appear whatever the level).
_USER_LOG_LEVEL = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Bit-reproducible TensorFlow ops (CPU kernels otherwise sum in thread
# order): tests that compare two runs, or worker processes with one
# process, then differ only where the computation does. Subprocesses
# inherit it.
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
# Under pytest-xdist two test processes share the two cores: one kernel
# thread each (subprocesses inherit it) instead of four threads fighting.
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
# Demos are built once per test session, shared by every test and subprocess.
os.environ.setdefault("ATTENTION_DEMO_DIR", tempfile.mkdtemp(prefix="attention-demo-"))

import pytest  # noqa: E402

from common.commandline.quiet import native_stderr_silenced  # noqa: E402

with native_stderr_silenced():  # TensorFlow's absl start-up lines (see common.commandline.quiet)
    import keras  # noqa: E402
    import tensorflow as tf  # noqa: E402

if _USER_LOG_LEVEL is None:
    del os.environ["TF_CPP_MIN_LOG_LEVEL"]

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)


@pytest.fixture(autouse=True)
def _seed(monkeypatch):
    keras.utils.set_random_seed(0)
    if _USER_LOG_LEVEL is None:  # an in-process command sets it (common.commandline.quiet)
        monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    yield
    keras.backend.clear_session()


@pytest.fixture(scope="session")
def mirrored():
    """MirroredStrategy over the two logical CPU devices; one per session, as
    strategies created side by side in a process can mix up their collective
    ops' instance keys."""
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


@pytest.fixture
def run_python():
    """Runs code in a fresh Python process (as a user loading a saved model
    would) and fails the test with its stderr if it fails."""
    from tests.fresh_process import python_process

    def run(code, timeout=300):
        done = python_process("-c", code, env={"TF_CPP_MIN_LOG_LEVEL": "2"}, timeout=timeout)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout
    return run


@pytest.fixture
def reloaded_predictions_match(run_python):
    """Checks that a run's model.keras, loaded the Keras way in a fresh
    process that imports only ``common`` first, predicts its predictions.csv."""
    def check(run, image_size):
        run_python(f"""
import common
import keras
model = keras.saving.load_model(r"{run / 'model.keras'}")
import numpy as np, pandas as pd, tensorflow as tf
from common.data.pipeline import decode_image
assert len(model.outputs) == 1
table = pd.read_csv(r"{run / 'predictions.csv'}")
images = tf.stack([decode_image(p, ({image_size}, {image_size})) for p in table["path"]])
expected = table[[c for c in table if c.startswith("p_")]].to_numpy()
np.testing.assert_allclose(model.predict(images, verbose=0), expected, rtol=1e-5, atol=1e-6)
""")
    return check


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory):
    """``small_demo(name, per_class=6)``: a CSV beside demo ``name``'s
    images with ``per_class`` train images per class and a third of that in
    val and test, for tests that need the real pipeline but few steps."""
    import pandas as pd

    from common.data.demo import demo_csv

    def make(name, per_class=6):
        source = demo_csv(name)
        frame = pd.read_csv(source)
        counts = {"train": per_class, "val": max(1, per_class // 3),
                  "test": max(1, per_class // 3)}
        parts = [group.head(counts[split]) for (split, _), group in
                 frame.groupby(["split", "label"], sort=True)]
        path = os.path.join(os.path.dirname(source), f"small-{per_class}.csv")
        pd.concat(parts).to_csv(path, index=False)
        return path
    return make


@pytest.fixture(scope="session")
def demo_settings(tmp_path_factory):
    """``demo_settings(command)``: a config file with the command's demo
    defaults, so ``--data small.csv`` trains like the demo (not the paper)."""
    import yaml

    def make(command):
        path = tmp_path_factory.mktemp("settings") / f"{command.method}.yaml"
        # A few steps on a few images can end at chance: that is not what these
        # tests check (tests/test_chance_guard.py does).
        demo = {**command.base_defaults(), **command.demo_defaults, "weights": "none",
                "at_chance": "warn"}
        for run_specific in ("output", "resume", "val_data", "verbose", "strategy"):
            demo.pop(run_specific, None)
        known = command.all_flags()
        path.write_text(yaml.safe_dump({k: v for k, v in demo.items()
                                        if v is not None and k in known}))
        return str(path)
    return make


@pytest.fixture(scope="session")
def built_once(tmp_path_factory):
    """``built_once(name, build)``: ``build(folder)`` once per test process,
    returning its JSON-able result. pytest-xdist tears session fixtures down
    whenever a worker runs out of queued tests, even between the tests of one
    ``xdist_group``, and a rebuilt fixture would train its runs again: the
    result and folder stay in the worker's base temporary directory."""
    import json
    import shutil

    def get(name, build):
        folder = tmp_path_factory.getbasetemp() / f"built-{name}"
        done = folder / "built.json"
        if done.is_file():
            return json.loads(done.read_text())
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        result = build(folder)
        done.write_text(json.dumps(result))
        return result
    return get

