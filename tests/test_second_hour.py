"""What a newcomer meets after the demo: a bad --output or a mistyped flag
is one line with exit status 2 from the installed command, and the flag
error names the flag they meant."""

import os
import subprocess
import sys

import pytest

from tests.fresh_process import interruptible

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


def test_an_interrupt_says_how_to_go_on_and_that_command_finishes_the_run(
        tmp_path, small_demo, demo_settings):
    """Ctrl-C soon after the run folder appears (before or after the first
    epoch): the one line names the command that goes on, and that command,
    copied as it stands, finishes the run."""
    import signal
    import time

    from common.train import COMMAND
    run = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    process = subprocess.Popen(
        [os.path.join(BIN, "attention-train"), "--data", small_demo("digits", 6), "--config",
         demo_settings(COMMAND), "--image-size", "16", "--batch-size", "16", "--verbose", "0",
         "--epochs", "3", "--output", str(run)], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
        preexec_fn=interruptible)
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None and not (
            run / "config.yaml").is_file():
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    lines = stderr.strip().splitlines()
    assert process.returncode == 130 and len(lines) == 1, (process.returncode, stderr)
    command = lines[0].split("`")[1]
    assert command == f"attention-train --resume --output {run}", lines[0]
    done = subprocess.run([os.path.join(BIN, command.split()[0]), *command.split()[1:]],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (run / "model.keras").is_file() and not (run / "FAILED").exists()


def test_the_resume_command_repeats_a_network_that_names_code():
    from common.train import COMMAND
    from common.training.runfolder import resume_command
    from common.training.settings import Settings
    flags = dict.fromkeys(COMMAND.all_flags())
    code = Settings(flags, output="runs/x", network="mymod:build")
    assert resume_command(COMMAND, code).endswith(
        " --resume --output runs/x --network mymod:build")
    data = Settings(flags, output="runs/x", network="mine.keras")
    assert resume_command(COMMAND, data).endswith(" --resume --output runs/x")


def test_the_report_puts_runs_with_other_classes_side_by_side_with_a_warning(tmp_path):
    import json

    for name, data, classes in (("a", "demo:digits", 10), ("b", "demo:where", 3)):
        run = tmp_path / name
        run.mkdir()
        (run / "config.yaml").write_text(f"method: common\ndata: {data}\nepochs: 1\n")
        (run / "classes.json").write_text(json.dumps([f"c{i}" for i in range(classes)]))
        (run / "history.csv").write_text("epoch,loss,val_loss\n0,2.0,2.1\n")
    done = _run("attention-report", tmp_path / "a", tmp_path / "b", "--out", tmp_path / "r.html")
    assert done.returncode == 0, done.stderr
    warning = ("These runs trained on different data (a: demo:digits, 10 classes; "
               "b: demo:where, 3 classes): their metrics do not compare.")
    assert warning in done.stderr.splitlines()[0], done.stderr
    page = (tmp_path / "r.html").read_text()
    assert warning in page and "<th>a</th><th>b</th>" in page


def test_the_readmes_commands_after_the_demo_run_as_written(tmp_path, small_demo,
                                                            demo_settings):
    """The README's block after `make demo`, copied line by line into bash
    in the folder that holds runs/agnet-demo (a one-epoch AG-Net on a few
    demo images stands in for the demo; the line that evaluates on the
    full demo set is left out: it needs the demo's own classes)."""
    import re

    from agnet.train import COMMAND
    done = _run("agnet-train", "--data", small_demo("digits", 4), "--config",
                demo_settings(COMMAND), "--epochs", "1", "--verbose", "0", "--at-chance", "warn",
                "--output", "runs/agnet-demo", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    readme = open(os.path.join(os.path.dirname(os.path.dirname(__file__)), "README.md")).read()
    block = next(b for b in re.findall(r"```bash\n(.*?)```", readme, re.S)
                 if "runs/agnet-demo/predictions.csv" in b)
    lines = [line for line in block.splitlines() if "--data demo:" not in line]
    assert len(lines) == 3, lines
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PATH"] = BIN + os.pathsep + env["PATH"]
    done = subprocess.run(["bash", "-e", "-c", "\n".join(lines)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(list((tmp_path / "regions").glob("*.png"))) == 3
    assert len(list((tmp_path / "explain").glob("*.png"))) >= 3
