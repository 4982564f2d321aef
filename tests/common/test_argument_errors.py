"""Library code names its arguments, the commands their flags (#39 item 4):
``read_data(data)`` says ``data: ...``, ``attention-train --data`` says
``--data: ...`` for the same mistake."""

import subprocess
import sys

import pytest

from common.data import read_data
from common.errors import ArgumentError, named_by
from common.networks import load_network, with_input_range
from common.saving import load_model
from fsa.masks import load_masks


def test_each_library_error_names_its_argument(tmp_path):
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip file")
    cases = [(lambda: read_data(str(tmp_path / "nope")), "data: "),
             (lambda: load_masks(str(tmp_path / "m.npz"), ["a", "b"]), "path: file "),
             (lambda: load_network("no_such_module:build", (8, 8, 3), 2),
              "spec: cannot import 'no_such_module:build'"),
             (lambda: load_network(str(bad), (8, 8, 3), 2), f"spec: '{bad}' is not a .keras"),
             (lambda: load_model(str(bad)), f"path: '{bad}' is not a .keras"),
             (lambda: with_input_range(None, "0-100"), "input_range: expected one of")]
    for call, start in cases:
        with pytest.raises(ArgumentError) as error:
            call()
        assert str(error.value).startswith(start), (str(error.value), start)
        assert "--" not in str(error.value)


def test_a_command_names_the_flag_instead():
    with pytest.raises(ArgumentError, match="^--data: CSV file 'x.csv' does not exist$"):
        with named_by("--data", "data"):
            read_data("x.csv")
    with pytest.raises(ArgumentError, match="^path: "):  # another argument's error passes
        with named_by("--data", "data"):
            load_masks("m.npz", ["a", "b"])


def test_the_console_script_says_the_flag(tmp_path):
    done = subprocess.run([sys.executable, "-m", "common.train", "--data", "nope.csv",
                           "--output", str(tmp_path / "run")], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "python -m common.train: error: --data: CSV file 'nope.csv' does not exist")
