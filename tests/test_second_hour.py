"""What a newcomer meets after the demo: a bad --output or a mistyped flag
is one line with exit status 2 from the installed command, and the flag
error names the flag they meant."""

import os
import subprocess
import sys

import pytest

BIN = os.path.dirname(sys.executable)


def _run(script, *args, cwd=None):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([os.path.join(BIN, script), *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def _one_line(done):
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, (done.returncode, done.stderr[-3000:])
    return lines[0]


@pytest.mark.parametrize("output, expected", [
    ("{file}/run", "'{file}' is a file, not a folder"),
    ("{file}", "'{file}' is a file, not a run folder"),
    ("/proc/forbidden", "cannot create run folder '/proc/forbidden'"),
], ids=["under-a-file", "a-file", "proc"])
def test_a_bad_output_is_one_line(tmp_path, output, expected):
    file = tmp_path / "README.md"
    file.write_text("a file\n")
    output, expected = (x.format(file=file) for x in (output, expected))
    line = _one_line(_run("agnet-train", "--output", output, "--epochs", "1", cwd=tmp_path))
    assert line.startswith("agnet-train: error: --output: ") and expected in line, line


@pytest.mark.parametrize("script, typo, meant, required", [
    ("attention-train", "--epcohs", "--epochs", ()),
    ("agnet-train", "--batch-szie", "--batch-size", ()),
    ("attention-evaluate", "--mpas", "--maps", ("--model", "m", "--data", "d", "--out", "o"))])
def test_a_mistyped_flag_names_the_flag_meant(script, typo, meant, required):
    line = _one_line(_run(script, *required, typo, "3"))
    assert f"unrecognized arguments: {typo} 3 (did you mean {meant}?)" in line, line
