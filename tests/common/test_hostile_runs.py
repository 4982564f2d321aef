"""Config files and run folders from elsewhere are data: a config or a run's
config.yaml cannot make the toolkit import code, a run folder's files point
only inside it, a YAML alias bomb or a deeply nested file is refused before
it is expanded, and each case is one stderr line and exit status 2 from the
installed command, in a process whose address space is capped."""

import json
import os
import sys

import pandas as pd
import pytest

from tests.hostile import GIB, run_capped

BIN = os.path.dirname(sys.executable)
ALIAS_BOMB = "".join(
    [f"{chr(97 + i)}: &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 9) + "]\n"
     for i in range(9)]).replace("*`", '"lol"')


def _script(name, *args, cwd=None, cap=2 * GIB + GIB // 2, env=None):
    return run_capped([os.path.join(BIN, name), *map(str, args)], cap=cap, cwd=cwd, env=env)


def _evil_module(folder):
    """A module that, if anything imports it, leaves a marker file."""
    marker = folder / "imported"
    (folder / "evilmod.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n"
        "def build(input_shape, num_classes):\n    raise SystemExit('ran')\n")
    return marker


def _run_folder(folder, config, classes=("a", "b"), history="epoch,loss\n0,1.0\n"):
    folder.mkdir()
    (folder / "config.yaml").write_text(config)
    (folder / "classes.json").write_text(json.dumps(list(classes)))
    (folder / "history.csv").write_text(history)
    (folder / "README.txt").write_text("a run\n")
    return folder


def test_a_config_file_cannot_name_code(tmp_path):
    marker = _evil_module(tmp_path)
    (tmp_path / "evil.yaml").write_text("network: evilmod:build\n")
    done = _script("attention-train", "--config", tmp_path / "evil.yaml", "--output",
                   tmp_path / "run", cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)})
    line = done.one_line()
    assert "--network 'evilmod:build' comes from --config" in line, line
    assert "on the command line" in line and not marker.exists()
    assert not (tmp_path / "run").exists()


def test_a_resumed_run_folder_cannot_name_code(tmp_path):
    marker = _evil_module(tmp_path)
    run = _run_folder(tmp_path / "run", "method: common\nnetwork: evilmod:build\nepochs: 2\n")
    done = _script("attention-train", "--resume", "--output", run, cwd=tmp_path,
                   env={"PYTHONPATH": str(tmp_path)})
    line = done.one_line()
    assert "comes from the resumed run's config.yaml" in line, line
    assert not marker.exists()


@pytest.mark.parametrize("config, expected", [
    ("method: common\nepochs: 2\nno_such_flag: 1\n", "has unknown key(s) ['no_such_flag']"),
    ("- 1\n- 2\n", "must hold a mapping of flag names to values, not a list"),
    ("method: common\nepochs: {a: 1}\n", "--epochs must be a single value"),
])
def test_a_resumed_config_is_checked_as_a_config_file_is(tmp_path, config, expected):
    run = _run_folder(tmp_path / "run", config)
    line = _script("attention-train", "--resume", "--output", run).one_line()
    assert f"--resume: '{run / 'config.yaml'}'" in line and expected in line, line


@pytest.mark.parametrize("metadata, expected", [
    ({"epoch": 1, "weights": "/etc/hostname"}, "must name a .weights.h5 file of its own"),
    ({"epoch": 1, "weights": "../../elsewhere.weights.h5"}, "must name a .weights.h5"),
    ({"epoch": "x", "weights": "epoch_001.weights.h5"}, "'epoch' must be a non-negative"),
    ({"epoch": 1, "weights": "link.weights.h5"}, "points outside its run folder"),
])
def test_a_backup_points_only_inside_its_folder(tmp_path, metadata, expected):
    run = _run_folder(tmp_path / "run", "method: common\nepochs: 2\n")
    (run / "backup").mkdir()
    (tmp_path / "outside.weights.h5").write_bytes(b"not weights")
    os.symlink(tmp_path / "outside.weights.h5", run / "backup" / "link.weights.h5")
    (run / "backup" / "training_metadata.json").write_text(json.dumps(metadata))
    line = _script("attention-train", "--resume", "--output", run).one_line()
    assert f"{run / 'backup'}" in line and expected in line, line


@pytest.mark.parametrize("name, content, expected", [
    ("history.csv", "loss\n1.0\n", "with an integer 'epoch' column"),
    ("classes.json", json.dumps([["a"], "b"]), "must hold a list of distinct class names"),
], ids=["history", "classes"])
def test_a_resumed_run_file_is_read_as_data(tmp_path, name, content, expected):
    run = _run_folder(tmp_path / "run", "method: common\nepochs: 2\n")
    (run / name).write_text(content)
    line = _script("attention-train", "--resume", "--output", run).one_line()
    assert f"'{run / name}'" in line and expected in line, line


def test_a_yaml_alias_bomb_is_refused_before_it_expands(tmp_path):
    (tmp_path / "bomb.yaml").write_text(ALIAS_BOMB + "epochs: *h\n")
    assert len(ALIAS_BOMB) < 600  # 9 ** 9 values once expanded
    done = _script("attention-train", "--config", tmp_path / "bomb.yaml")
    line = done.one_line()
    assert "more than 100,000 values once its YAML aliases are expanded" in line, line
    assert len(line) < 400 and done.peak_rss < 400e6, (len(line), done.peak_rss)


@pytest.mark.parametrize("name, content", [
    ("deep.yaml", "a: " + "[" * 5000 + "]" * 5000 + "\n"),
    ("deep.json", "{\"epochs\": " + "[" * 100_000 + "]" * 100_000 + "}"),
], ids=["yaml", "json"])
def test_a_deeply_nested_config_is_one_line(tmp_path, name, content):
    (tmp_path / name).write_text(content)
    line = _script("attention-train", "--config", tmp_path / name).one_line()
    assert "nested more than 32 levels deep" in line, line


def test_values_quoted_in_errors_are_short_and_escaped(tmp_path):
    (tmp_path / "c.yaml").write_text('optimizer: "\\e[2J\\e[31m' + "x" * 5000 + '"\n')
    done = _script("attention-train", "--config", tmp_path / "c.yaml")
    line = done.one_line()
    assert "--optimizer: expected one of ['adam', 'sgd']" in line, line
    assert "\x1b" not in done.stderr and len(line) < 300, line


def _report(*args):
    return _script("attention-report", *args)


def test_the_report_refuses_a_symlink_out_of_the_run_folder(tmp_path):
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG\r\n\x1a\n" + b"SECRET" * 100)
    run = _run_folder(tmp_path / "run", "method: common\ndata: demo:digits\n")
    os.symlink(secret, run / "confusion_matrix.png")
    line = _report(run, "--out", tmp_path / "r.html").one_line()
    assert f"'{run / 'confusion_matrix.png'}' points outside its run folder" in line, line
    assert not (tmp_path / "r.html").exists()


def test_the_report_embeds_only_pngs(tmp_path):
    run = _run_folder(tmp_path / "run", "method: common\ndata: demo:digits\n")
    (run / "cams").mkdir()
    (run / "cams" / "epoch_001.png").write_text("<script>not a picture</script>")
    line = _report(run, "--out", tmp_path / "r.html").one_line()
    assert "is not a PNG picture" in line, line


@pytest.mark.parametrize("name, content, expected", [
    ("metrics.json", "{\"a\": " + "[" * 100_000 + "]" * 100_000 + "}", "nested more than"),
    ("config.yaml", "- a\n- b\n", "must hold a mapping of settings"),
    ("history.csv", "loss\n1.0\n", "with an integer 'epoch' column"),
    ("classes.json", json.dumps([[["a"]], "b"]), "must hold a list of distinct class names"),
    ("FAILED", "x" * 70_000, "more than the 65,536"),
], ids=["metrics", "config", "history", "classes", "failed"])
def test_a_broken_run_file_is_one_line_in_the_report(tmp_path, name, content, expected):
    run = _run_folder(tmp_path / "run", "method: common\ndata: demo:digits\n")
    (run / name).write_text(content)
    line = _report(run, "--out", tmp_path / "r.html").one_line()
    assert name in line and expected in line, line


def test_control_characters_in_names_are_escaped_in_the_report_warning(tmp_path):
    """Runs on different data: the warning names each run's data as its
    config.yaml records it, with escape codes shown, not sent."""
    for name in ("a", "b"):
        _run_folder(tmp_path / name, f'method: common\ndata: "\\e]0;pwned\\a{name}\\nx"\n')
    done = _report(tmp_path / "a", tmp_path / "b", "--out", tmp_path / "r.html")
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stderr and "\\x1b]0;pwned" in done.stderr, done.stderr
    assert len(done.lines) == 2, done.stderr  # the warning, then "wrote ..."


def test_history_reader_keeps_numbers_and_refuses_text(tmp_path):
    from common.training.runfolder import RunFolderError, read_history
    path = tmp_path / "history.csv"
    pd.DataFrame({"epoch": [0, 1], "loss": [1.5, float("nan")]}).to_csv(path, index=False)
    history = read_history(path)
    assert history["epoch"].tolist() == [0, 1] and history["loss"].iloc[0] == 1.5
    path.write_text("epoch,loss\n0,high\n")
    with pytest.raises(RunFolderError, match="column 'loss' is not numeric"):
        read_history(path)
