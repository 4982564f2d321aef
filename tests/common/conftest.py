"""Shared fixtures of the tests in tests/common."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def runs(built_once, small_demo, demo_settings):
    """name -> (run folder, data CSV): tiny runs on the digits (no boxes)
    and on the wsol demo (boxes), 16 px, a few epochs on 80 images."""
    def build(root):
        made = {}
        from common.train import COMMAND
        from common.training.entry import main as train
        for name in ("digits", "wsol"):
            data = small_demo(name, 8)
            train(COMMAND, ["--data", data, "--config", demo_settings(COMMAND),
                            "--image-size", "16", "--batch-size", "16", "--epochs", "3",
                            "--lr", "0.01", "--keep", "last", "--verbose", "0", "--output",
                            str(root / name)])
            made[name] = (str(root / name), data)
        return made
    return {name: (Path(run), data) for name, (run, data) in
            built_once("evaluate-runs", build).items()}


@pytest.fixture
def evaluate_error(capsys):
    """``evaluate_error(argv)``: attention-evaluate's one stderr line, after
    checking that it exits with status 2 and prints nothing else."""
    from common.evaluate import main

    def run(argv):
        with pytest.raises(SystemExit) as stop:
            main(argv)
        lines = capsys.readouterr().err.strip().splitlines()
        assert stop.value.code == 2 and len(lines) == 1, lines
        return lines[0]
    return run
