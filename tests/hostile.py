"""Runs a reader on a hostile file the way the machine must survive it: in a
fresh process under an address-space cap, timed out, with its peak memory
measured, so a guard that stops working fails the test instead of taking
the machine's memory."""

import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GIB = 1 << 30


@dataclass
class Capped:
    returncode: int
    stdout: str
    stderr: str
    peak_rss: int  # bytes: the child's maximum resident set

    @property
    def lines(self):
        return [line for line in self.stderr.splitlines() if line.strip()]

    def one_line(self, status=2):
        """The refusal's single stderr line, after checking the status."""
        assert self.returncode == status and len(self.lines) == 1, (
            self.returncode, self.stderr[-3000:])
        return self.lines[0]


# Started from pytest, a forked child's peak RSS (wait4) would include the
# copy of pytest's own memory it held until exec: a small launcher process
# (exec'd Python, a few MB) forks the command instead, caps it, and reports
# that child's own peak.
LAUNCHER = """
import os, resource, sys
cap, report, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
pid = os.fork()
if pid == 0:
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(report, "w") as handle:
    handle.write(str(usage.ru_maxrss * 1024))
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


def run_capped(argv, cap=2 * GIB + GIB // 2, timeout=180, cwd=None, env=None):
    """``argv`` (a command, or Python code when a string) in a fresh process
    whose address space is capped at ``cap`` bytes, killed after
    ``timeout`` seconds; returns its status, output and own peak RSS. A
    process that imports TensorFlow runs under a 2 GiB cap here (about
    0.8 GB resident); readers that import no TensorFlow can take a tighter
    cap (1 GiB holds NumPy, OpenCV and PyYAML)."""
    if isinstance(argv, str):
        argv = [sys.executable, "-c", argv]
    # As a user's shell: the test session's TF_CPP_MIN_LOG_LEVEL would make the
    # commands show TensorFlow's start-up logs (common.commandline.quiet).
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    environment.update({"PYTHONPATH": ROOT, **(env or {})})
    with tempfile.TemporaryDirectory() as folder:
        report = os.path.join(folder, "peak")
        with open(os.devnull, "rb") as stdin:
            process = subprocess.Popen(
                [sys.executable, "-c", LAUNCHER, str(cap), report, *map(str, argv)],
                cwd=cwd or ROOT, env=environment, stdin=stdin, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, start_new_session=True)
            try:
                stdout, stderr = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
                raise AssertionError(f"still running after {timeout} s: {argv}") from None
        peak = int(open(report).read()) if os.path.isfile(report) else 0
    return Capped(process.returncode, stdout.decode(errors="replace"),
                  stderr.decode(errors="replace"), peak)
