"""Guides by name (``common.guide_registry``): a guide from a package that is
not the toolkit's reaches ``attention-train --guide`` through a real entry
point, the toolkit's own guides compose by name with their arguments, from
the command line or a ``--config`` file, a resumed run rebuilds them, and a
bad name, argument or value is one line and exit status 2 (names and
arguments before TensorFlow loads) with no run folder."""

import json
import os
import textwrap

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.common.annotated_data import annotated_csv, tiny_train

GUIDE = '''
import keras
import tensorflow as tf

import common


@keras.saving.register_keras_serializable(package="mine")
class ProbabilityMass(common.Guide):
    """Term ``<label>_loss``: weight (twice with doubled) times the mean over
    images of the sum of the predicted probabilities, which is 1; statistic
    ``ignored``: the share of the image its ``ignore`` mask covers."""

    reads = ("ignore",)

    def __init__(self, weight=1.0, label="mass", doubled=False):
        self.weight, self.label, self.doubled = float(weight), str(label), bool(doubled)

    def term_names(self):
        return (f"{self.label}_loss",)

    def terms(self, step):
        mass = tf.reduce_sum(tf.cast(step.predictions, tf.float32), axis=-1)
        scale = self.weight * (2.0 if self.doubled else 1.0)
        return {f"{self.label}_loss": scale * tf.reduce_mean(mass)}

    def statistic_names(self):
        return ("ignored",)

    def statistics(self, step):
        return {"ignored": tf.reduce_mean(step.annotation("ignore", "ProbabilityMass"))}

    def get_config(self):
        return {"weight": self.weight, "label": self.label, "doubled": self.doubled}
'''


def _draw(i):
    mask = np.zeros((16, 16), np.uint8)
    mask[:, : 4 + i % 4] = 255
    return mask


@pytest.fixture
def user_package(tmp_path):
    """A folder holding a module with a guide and the dist-info that
    registers it under ``attention_guided.guides``, as pip would install it."""
    folder = tmp_path / "site"
    info = folder / "mypkg-0.1.dist-info"
    info.mkdir(parents=True)
    (folder / "mine_guides.py").write_text(GUIDE)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mypkg\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[attention_guided.guides]\nmass = mine_guides:ProbabilityMass\n")
    return folder


def _train(monkeypatch, folders, *args):
    """``tiny_train`` with ``folders`` on the PYTHONPATH."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(map(str, folders)))
    return tiny_train(*args)


def test_a_users_guide_and_the_toolkits_by_name_and_resumed(tmp_path, user_package,
                                                             monkeypatch):
    data = annotated_csv(tmp_path, "ignore", _draw)
    run = tmp_path / "run"
    done = _train(monkeypatch, [user_package], "--data", data, "--output", run, "--flip", "none",
                  "--guide", "mass", "--guide", "input_gradient",
                  "--guide-arg", "mass.weight=0.25", "--guide-arg", "mass.label=shortcut",
                  "--guide-arg", "mass.doubled=true", "--guide-arg", "input_gradient.weight=10")
    assert done.returncode == 0, done.stderr[-3000:]
    history = pd.read_csv(run / "history.csv")
    assert np.allclose(history["shortcut_loss"], 0.5, atol=1e-5), history  # 0.25, doubled
    assert np.allclose(history["val_shortcut_loss"], 0.5, atol=1e-5), history
    assert history["input_gradient_loss"].gt(0).all(), history
    assert history["ignored"].between(4 / 16, 7 / 16).all(), history  # the masks reached it
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["guide"] == ["mass", "input_gradient"]
    assert config["guide_arg"][-1] == "input_gradient.weight=10"
    for name in ("model.keras", "metrics.json", "predictions.csv", "confusion_matrix.png"):
        (run / name).unlink()  # what a crash after epoch 1 leaves
    resumed = _train(monkeypatch, [user_package], "--resume", "--output", run, "--epochs", "2")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    history = pd.read_csv(run / "history.csv")
    assert history["epoch"].tolist() == [0, 1], history
    assert np.allclose(history["shortcut_loss"], 0.5, atol=1e-5), history
    assert history["input_gradient_loss"].gt(0).all(), history


def test_fsa_by_name_brings_its_schedule_and_checks(tmp_path):
    """#39 item 1: what made fsa-train special comes with its guide
    (``Guide.callbacks``): through attention-train the warm-up epoch has no
    FSA loss and the next ones have, as ``fsa.StageSwitch`` sets them, and
    the dead-CAM monitor's entry reaches metrics.json."""
    data = annotated_csv(tmp_path, "attend", _draw)
    run = tmp_path / "run"
    done = tiny_train("--data", data, "--output", run, "--flip", "none", "--epochs", "3",
                      "--guide", "fsa", "--guide-arg", "fsa.attend=true",
                      "--guide-arg", "fsa.weight=1", "--guide-arg", "fsa.warmup_epochs=1",
                      "--guide-arg", "fsa.stage1_epochs=1")
    assert done.returncode == 0, done.stderr[-3000:]
    loss = pd.read_csv(run / "history.csv")["fsa_loss"].tolist()
    assert loss[0] == 0 and min(loss[1:]) > 0, loss
    assert "cam_alive" in json.loads((run / "metrics.json").read_text())


def test_guides_from_a_config_file(tmp_path):
    data = annotated_csv(tmp_path, "ignore", _draw)
    config = tmp_path / "guides.yaml"
    config.write_text(textwrap.dedent("""\
        guide: [gradcam_penalty, counterexamples]
        guide_arg:
          - gradcam_penalty.weight=2
          - counterexamples.share=0.5
          - counterexamples.fill=other
        """))
    run = tmp_path / "run"
    done = tiny_train("--data", data, "--config", config, "--output", run, "--flip", "none")
    assert done.returncode == 0, done.stderr[-3000:]
    history = pd.read_csv(run / "history.csv")
    assert "gradcam_loss" in history and "counterexamples" in history, history
    assert history["counterexamples"].between(0, 1).all() and history["gradcam_loss"].ge(0).all()
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["guide"] == ["gradcam_penalty", "counterexamples"]
    assert "counterexamples.fill=other" in saved["guide_arg"]


def _one_line(done, run):
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-3000:]
    assert not os.path.exists(run)
    return lines[0]


@pytest.mark.parametrize("args, message", [
    (("--guide", "nope"), "--guide nope: no guide of that name is installed"),
    (("--guide", "mass", "--guide-arg", "mass.wieght=1"),
     "takes no argument 'wieght'; it takes weight, label, doubled (did you mean mass.weight?)"),
    (("--guide", "input_gradient", "--guide-arg", "input_gradient.weight=abc"),
     "--guide-arg input_gradient.weight=abc: expected a finite number"),
    (("--guide", "mass", "--guide-arg", "mass.doubled=3"),
     "--guide-arg mass.doubled=3: expected true or false"),
    (("--guide", "hint", "--guide-arg", "hint.weight=[1, 2]"), "not a list"),
    (("--guide-arg", "hint.weight=1"), "--guide-arg hint.weight=1: no --guide hint"),
    (("--guide", "hint", "--guide", "hint"), "--guide hint: given twice"),
], ids=["unknown-guide", "unknown-argument", "not-a-number", "not-a-boolean", "a-list",
        "no-such-guide-given", "twice"])
def test_bad_names_and_arguments_are_one_line_before_tensorflow(tmp_path, user_package, args,
                                                                message, monkeypatch):
    fake = tmp_path / "no_tensorflow" / "tensorflow"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('TensorFlow was imported')\n")
    run = tmp_path / "run"
    done = _train(monkeypatch, [fake.parent, user_package], "--output", run, *args)
    line = _one_line(done, run)
    assert line.startswith("attention-train: error: --guide") and message in line, line


def test_values_the_constructor_refuses_and_what_the_guides_read_are_one_line(tmp_path):
    data = annotated_csv(tmp_path, "ignore", _draw)
    run = tmp_path / "run"
    line = _one_line(tiny_train("--data", data, "--output", run, "--guide", "input_gradient",
                                "--guide-arg", "input_gradient.weight=-1"), run)
    assert "--guide input_gradient: InputGradientPenalty: weight must be >= 0, got -1" in line
    line = _one_line(tiny_train("--data", data, "--output", run, "--flip", "none",
                                "--guide", "hint"), run)
    assert line.startswith("attention-train: error: --guide hint: '") and "has no attend" \
        in line, line
    line = _one_line(tiny_train("--data", data, "--output", run, "--flip", "horizontal",
                                "--guide", "box_energy"), run)
    assert "--guide box_energy: the boxes do not move with --flip" in line, line



def test_values_are_yaml_scalars():
    from common.guide_registry import parse_value
    assert parse_value("10") == 10 and isinstance(parse_value("10"), int)
    assert parse_value("1e-3") == 0.001 and parse_value("-.5") == -0.5
    assert parse_value("true") is True and parse_value("null") is None
    assert parse_value("kd") == "kd" and parse_value("'10'") == "10"
    with pytest.raises(ValueError, match="not a mapping"):
        parse_value("{a: 1}")


def test_the_source_signatures_are_the_constructors():
    """What is checked before TensorFlow (the module's source) is what the
    constructor takes, for every guide the toolkit registers."""
    from common.guide_registry import class_signature, registered, source_signature
    points = registered()
    toolkit = ["hnc", "box_energy", "input_gradient", "gradcam_penalty", "hint",
               "counterexamples", "fsa", "occlusion", "fam"]
    assert set(toolkit) <= set(points), sorted(points)
    for name in toolkit:
        assert source_signature(points[name].value) == class_signature(points[name].load()), \
            name
