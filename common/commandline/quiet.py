"""Quiet by default: TensorFlow's C++ start-up logs off, unless the user set
TF_CPP_MIN_LOG_LEVEL or asked for ``--verbose 2``.

TensorFlow 2.21 logs "oneDNN custom operations are on" and its CPU-feature
notice through absl before ``absl::InitializeLog()`` runs, and absl writes
such messages to stderr whatever the threshold (abseil/abseil-cpp#1718 and
#1957; tensorflow/tensorflow#102212). No setting reaches them, so the file
descriptor 2 is pointed at /dev/null while TensorFlow is imported, and only
then; Python's own errors are printed after it is restored.
"""

import contextlib
import os
import sys


# Read once, before import_tensorflow sets the variable itself.
USER_SET_LEVEL = "TF_CPP_MIN_LOG_LEVEL" in os.environ


def wanted(verbose=1):
    """Whether TensorFlow's native logs should show: the user set their own
    level, or asked for ``--verbose 2``."""
    return USER_SET_LEVEL or verbose == 2


@contextlib.contextmanager
def native_stderr_silenced():
    """Points file descriptor 2 at /dev/null for the duration, while
    ``sys.stderr`` (Python's own lines: progress bars, errors) still
    reaches the terminal."""
    sys.stderr.flush()
    saved = os.dup(2)
    python_stderr, sys.stderr = sys.stderr, os.fdopen(os.dup(saved), "w")
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.close()
        sys.stderr = python_stderr
        os.dup2(saved, 2)
        os.close(saved)


def import_tensorflow(verbose=1):
    """Imports TensorFlow and Keras; without logs unless ``wanted``."""
    if wanted(verbose):
        import keras  # noqa: F401
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"  # runtime INFO and WARNING lines
    with native_stderr_silenced():
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
