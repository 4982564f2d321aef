"""The toolkit as a user installs it: its wheel holds exactly the five
packages and the console scripts; installed into a fresh folder, every
Python block of the README and of docs/ runs from an empty directory and
every command answers --help under its own name before TensorFlow loads."""

import glob
import json
import os
import re
import subprocess
import sys
import textwrap
import zipfile

import pandas as pd
import pytest

# One worker runs this file and builds its fixture once (pytest-xdist: a module
# fixture is torn down whenever a worker waits for more tests, so it is session-scoped).
pytestmark = pytest.mark.xdist_group("test_package")


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = {"common", "agnet", "fsa", "distraction", "fam"}
SCRIPTS = ("attention-train", "agnet-train", "fsa-train", "distraction-train", "fam-train",
           "agnet-predict", "fam-evaluate", "attention-explain", "attention-evaluate",
           "attention-report")


@pytest.fixture(scope="session")
def installed(built_once):
    """(wheel, folder it is installed into) for the current tree."""
    def build(work):
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                        "--no-build-isolation", ROOT, "-w", str(work / "wheel")],
                       check=True, capture_output=True, timeout=300)
        wheel = next((work / "wheel").glob("attention_guided-*.whl"))
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                        "--target", str(work / "site"), str(wheel)], check=True,
                       capture_output=True, timeout=300)
        return str(wheel), str(work / "site")
    from pathlib import Path
    return tuple(Path(p) for p in built_once("package", build))


def _env(site):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, "PYTHONPATH": str(site)}


def test_wheel_holds_the_five_packages_and_every_console_script(installed):
    wheel, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")} \
        == PACKAGES
    import configparser
    entry_points = configparser.ConfigParser(delimiters=("=",))
    entry_points.optionxform = str
    entry_points.read_string(zipfile.ZipFile(wheel).read(next(
        n for n in names if n.endswith("entry_points.txt"))).decode())
    assert sorted(entry_points["console_scripts"]) == sorted(SCRIPTS)
    # AG-Net's regions reach attention-explain and -evaluate (common.model_inputs)
    assert dict(entry_points["attention_guided.model_inputs"]) == {
        "agnet": "agnet.inputs:RegionInputs"}


def _python_blocks():
    """(label, code) of every ```python block of README.md and docs/*.md, in
    that order. Python not meant to run as it stands goes in a ```text block."""
    files = ["README.md"] + sorted(os.path.relpath(path, ROOT) for path in
                                   glob.glob(os.path.join(ROOT, "docs", "*.md")))
    blocks = []
    for name in files:
        with open(os.path.join(ROOT, name)) as handle:
            found = re.findall(r"```python\n(.*?)```", handle.read(), flags=re.S)
        blocks += [(f"{name} block {index}", textwrap.dedent(block))  # a block in a list
                   for index, block in enumerate(found)]
    return blocks


def test_readme_and_docs_python_blocks_run_from_an_empty_directory(installed, tmp_path):
    _, site = installed
    blocks = _python_blocks()
    assert any(label.startswith("README.md ") for label, _ in blocks)
    assert sum(label.startswith("docs/") for label, _ in blocks) >= 8, [l for l, _ in blocks]
    # One interpreter runs every block, each in its own namespace, as a
    # user would paste them into fresh scripts (one TensorFlow start-up).
    runner = tmp_path / "run_blocks.py"
    runner.write_text(
        "import sys, common\n"
        f"assert common.__file__.startswith({str(site)!r}), common.__file__\n"
        f"blocks = {blocks!r}\n"
        "for label, block in blocks:\n"
        "    print(label, file=sys.stderr, flush=True)\n"
        "    exec(compile(block, label, 'exec'), {'__name__': '__main__'})\n")
    done = subprocess.run([sys.executable, str(runner)], cwd=tmp_path, env=_env(site),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def test_console_scripts_answer_help_under_their_own_name_without_tensorflow(installed):
    """--help parses before TensorFlow loads (bench/cli_help.py times it)."""
    _, site = installed
    check = ("import atexit, sys; atexit.register(lambda: print('tensorflow loaded' if "
             "'tensorflow' in sys.modules else 'tensorflow not loaded', file=sys.stderr)); ")
    for script in SCRIPTS:
        done = subprocess.run([str(site / "bin" / script), "--help"], env=_env(site),
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and done.stdout.startswith(f"usage: {script} "), \
            (script, done.stdout[:200], done.stderr[-2000:])
        entry = open(site / "bin" / script).read()
        module, function = re.search(r"from ([\w.]+) import (\w+)", entry).groups()
        done = subprocess.run([sys.executable, "-c", check + f"sys.argv = [{script!r}, "
                               f"'--help']; from {module} import {function}; {function}()"],
                              env=_env(site), capture_output=True, text=True, timeout=60)
        assert done.stderr.strip().endswith("tensorflow not loaded"), (script, done.stderr)


def _script(site, script, *args, cwd=None, timeout=600):
    return subprocess.run([str(site / "bin" / script), *args], env=_env(site), cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def test_console_scripts_exit_0_on_success_and_2_on_a_bad_argument(installed, tmp_path,
                                                                     small_demo):
    """The installed commands as a shell sees them: a tiny real training,
    Grad-CAM pictures, the WSOL and explanation metrics and a report of it
    end with status 0 (the trainers without a cheap run answer --help with
    0, above); a bad argument is one line and status 2."""
    _, site = installed
    for script in SCRIPTS:
        done = _script(site, script, "--no-such-flag", timeout=60)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and \
            lines[0].startswith(f"{script}: error: "), \
            (script, done.returncode, done.stderr[-2000:])
    run = tmp_path / "run"
    done = _script(site, "attention-train", "--data", small_demo("wsol", 4), "--epochs", "1",
                   "--image-size", "16", "--batch-size", "32", "--backbone", "tiny",
                   "--weights", "none", "--at-chance", "warn", "--output", str(run))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "test set: 100%" in done.stderr  # the evaluation's progress bar
    readme = (run / "README.txt").read_text()
    assert f"Made by: attention-train --data {small_demo('wsol', 4)}" in readme
    assert "model.keras" in readme and "metrics.json" in readme
    images = sorted(pd.read_csv(run / "predictions.csv")["path"])[:2]
    done = _script(site, "attention-explain", "--model", str(run / "model.keras"), "--out",
                   str(tmp_path / "explained"), *images)
    assert done.returncode == 0 and len(list((tmp_path / "explained").glob("*.png"))) == 2, \
        done.stderr[-3000:]
    done = _script(site, "fam-evaluate", "--model", str(run / "model.keras"), "--data",
                   small_demo("wsol", 4), "--out", str(tmp_path / "wsol"), "--pictures", "1",
                   "--verbose", "0")
    assert done.returncode == 0 and done.stderr == "", done.stderr[-3000:]
    metrics = json.loads((tmp_path / "wsol" / "metrics.json").read_text())
    test_rows = pd.read_csv(small_demo("wsol", 4)).query("split == 'test'")["path"].nunique()
    assert metrics["split"] == "test" and metrics["images"] == test_rows
    done = _script(site, "attention-evaluate", "--model", str(run / "model.keras"), "--data",
                   small_demo("wsol", 4), "--out", str(tmp_path / "explained-metrics"),
                   "--maps", "cam", "--steps", "2", "--pictures", "1", "--verbose", "0")
    assert done.returncode == 0 and done.stderr == "", done.stderr[-3000:]
    metrics = json.loads((tmp_path / "explained-metrics" / "metrics.json").read_text())
    assert metrics["images"] == test_rows and "pointing_game_pct" in metrics["maps"]["cam"]
    done = _script(site, "attention-report", str(run), "--out", str(tmp_path / "r.html"))
    assert done.returncode == 0 and (tmp_path / "r.html").is_file(), done.stderr[-3000:]
