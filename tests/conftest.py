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
