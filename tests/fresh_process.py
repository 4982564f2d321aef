"""Runs Python in a fresh process, as a user's shell would start a command:
the one helper behind conftest's ``run_python`` and the tests that start a
console script's module (``python -m common.train ...``)."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def python_process(*argv, path=(), env=None, cwd=ROOT, timeout=600):
    """``python *argv`` with the toolkit (and the folders ``path``)
    importable; returns the finished ``subprocess.CompletedProcess`` (text
    output captured). ``env`` changes the test session's environment: a
    value of None removes that variable."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, *map(str, path)])}
    for name, value in (env or {}).items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    return subprocess.run([sys.executable, *map(str, argv)], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=timeout)


def interruptible():
    """``preexec_fn`` for a command a test interrupts: Ctrl-C's default
    action, as in a terminal, even when the test session itself was started
    in the background (a shell starts background jobs with SIGINT ignored,
    and a child inherits that, so Python would never see the interrupt)."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_DFL)
