"""Test set-up: quiet TensorFlow, two logical CPU devices for MirroredStrategy,
and a fixed seed per test."""

import os

import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Demos are built once per test session, shared by every test and subprocess.
os.environ.setdefault("ATTENTION_DEMO_DIR", tempfile.mkdtemp(prefix="attention-demo-"))

import keras  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session()


@pytest.fixture(scope="session")
def mirrored():
    """MirroredStrategy over the two logical CPU devices; one per session, as
    strategies created side by side in a process can mix up their collective
    ops' instance keys."""
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def run_python():
    """Runs code in a fresh Python process (as a user loading a saved model
    would) and fails the test with its stderr if it fails."""
    import subprocess
    import sys

    def run(code, timeout=300):
        env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2"}
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout
    return run


@pytest.fixture
def reloaded_predictions_match(run_python):
    """Checks that a run's model.keras, loaded in a fresh process that
    imports nothing of the toolkit beforehand, predicts its predictions.csv."""
    def check(run, image_size):
        run_python(f"""
import numpy as np, pandas as pd, tensorflow as tf
from common.data.pipeline import decode_image
from common.saving import load_model
model = load_model(r"{run / 'model.keras'}")
assert len(model.outputs) == 1
table = pd.read_csv(r"{run / 'predictions.csv'}")
images = tf.stack([decode_image(p, ({image_size}, {image_size})) for p in table["path"]])
expected = table[[c for c in table if c.startswith("p_")]].to_numpy()
np.testing.assert_allclose(model.predict(images, verbose=0), expected, rtol=1e-5, atol=1e-6)
""")
    return check
