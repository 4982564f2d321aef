"""One name per parameter: a guide's short flags are its constructor's
arguments (``--fsa-weight`` is ``--guide-arg fsa.weight``), fsa-train's FSA
is attention-train's, and the settings of a run are resolved once."""

import os
from types import SimpleNamespace

import pytest
import yaml

from common import train as attention
from common.data import read_data
from common.data.demo import demo_csv
from common.guide_registry import build
from common.training import entry
from common.training.cli import ConfigError
from distraction import train as distraction_train
from fsa import train as fsa_train

# a value per flag, none of them its default, so a dropped flag shows
VALUES = {"counterexamples": 0.4, "p": 0.6, "threshold": 0.7, "occlusion_mode": "random",
          "box_energy": 2.5, "box_energy_region": "attend", "hint": 3.5,
          "input_gradient": 4.5, "gradcam_penalty": 5.5, "hnc_weight": 0.3, "hnc_k": 2,
          "hnc_variant": "kd", "fsa_weight": 6.5, "fsa_reg": 0.35, "fsa_fit_loss": "mse",
          "fsa_mask_peak": "raw", "fsa_warmup_epochs": 2, "fsa_stage1_epochs": 3,
          "seed": 7}


def _settings(tmp_path, argv):
    return entry.parse(attention.COMMAND, [*argv, "--output", str(tmp_path / "run")])


def _argv(values):
    return [word for flag, value in values.items()
            for word in ("--" + flag.replace("_", "-"), str(value))]


@pytest.mark.parametrize("group", [g for g in attention.GUIDE_GROUPS if g.arguments],
                         ids=lambda g: g.title)
def test_each_short_flag_is_its_guides_argument(tmp_path, group):
    """Built from the group's short flags and from --guide NAME with
    --guide-arg NAME.argument for the same values: the same guide."""
    given = {flag: VALUES[flag] for flag in group.arguments}
    extra = ["--masks", "attend"] if "fsa_weight" in given else []
    settings = _settings(tmp_path, [*_argv(given), *extra])
    data = SimpleNamespace(classes=["a", "b"])
    (short,) = group.guides(settings, data)
    name = next(iter(group.arguments.values())).split(".")[0]
    guide_args = [f"{group.arguments[flag]}={value}" for flag, value in given.items()]
    guide_args += [f"{name}.attend=true"] if extra else []
    ((_, by_name),) = build([name], guide_args)
    assert type(short) is type(by_name)
    assert short.get_config() == by_name.get_config()
    for flag, target in group.arguments.items():  # and each value reached its argument
        argument = target.split(".")[1]
        if argument in short.get_config():
            assert short.get_config()[argument] == pytest.approx(given[flag]), flag


def test_fsa_train_builds_the_fsa_of_attention_train_masks(tmp_path):
    """fsa-train --variant fsa and attention-train --masks with the same
    FSA flags: the same guide (schedule, fit loss, weights), and both give
    it the callbacks that switch its stages and fail a run with dead CAMs."""
    from fsa.trainer import variant_guide
    csv = demo_csv("where")
    masks = os.path.join(os.path.dirname(csv), "masks.npz")
    fsa_flags = {k: VALUES[k] for k in VALUES if k.startswith("fsa_")}
    ours = entry.parse(fsa_train.COMMAND, [*_argv(fsa_flags), "--masks", masks,
                                           "--output", str(tmp_path / "fsa")])
    theirs = _settings(tmp_path, [*_argv(fsa_flags), "--masks", masks])
    data = SimpleNamespace(classes=read_data(csv)[1])
    guide = variant_guide(ours, data.classes, os.path.dirname(csv))
    (same,) = attention.FSA.guides(theirs, data)
    assert guide.get_config() == same.get_config()
    assert guide.get_config()["stage1_epochs"] == 3 and guide.get_config()["stage"] == 0
    assert [type(c).__name__ for c in same.callbacks()] == ["StageSwitch", "DeadCamMonitor"]
    # --epochs comes from the schedule, resolved once: 2 + 3 + fsa-stage2-epochs 6
    assert ours.epochs == 2 + 3 + 6


def test_settings_are_read_only(tmp_path):
    settings = _settings(tmp_path, [])
    with pytest.raises(AttributeError, match="resolved once"):
        settings.epochs = 3
    assert settings.replace(epochs=3).epochs == 3 and settings.epochs == 5
    with pytest.raises(AttributeError, match="no setting"):
        settings.replace(epoch=3)


@pytest.mark.parametrize("command, old, new", [
    (fsa_train.COMMAND, "lambda_fsa: 3.0", "fsa_weight"),
    (attention.COMMAND, "occlusion: random", "occlusion_mode"),  # a group's former name
    (distraction_train.COMMAND, "occlusion: random", "occlusion_mode")])
def test_a_former_name_in_a_config_file_is_refused_with_its_new_name(tmp_path, command, old,
                                                                     new):
    path = tmp_path / "old.yaml"
    path.write_text(old + "\n")
    former = old.split(":")[0]
    with pytest.raises(ConfigError, match=f"'{former}' is now called '{new}'"):
        entry.parse(command, ["--config", str(path), "--output", str(tmp_path / "run")])


def test_a_run_of_an_earlier_version_resumes_with_its_settings_renamed(tmp_path):
    """A config.yaml written before the rename (lambda_fsa, stage1_epochs)
    resumes with those values under the new names, not the defaults."""
    run = tmp_path / "old-run"
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump(
        {"method": "fsa", "lambda_fsa": 3.0, "lambda_reg": 0.01, "stage1_epochs": 4,
         "stage2_epochs": 1, "fit_loss": "mse", "epochs": 5}))
    settings = entry.parse(fsa_train.COMMAND, ["--resume", "--output", str(run)])
    assert (settings.fsa_weight, settings.fsa_reg, settings.fsa_stage1_epochs,
            settings.fsa_stage2_epochs, settings.fsa_fit_loss) == (3.0, 0.01, 4, 1, "mse")
    old = tmp_path / "old-distraction"
    old.mkdir()
    (old / "config.yaml").write_text(yaml.safe_dump(
        {"method": "distraction", "occlusion": "random", "p": 0.5}))
    settings = entry.parse(distraction_train.COMMAND, ["--resume", "--output", str(old)])
    assert (settings.occlusion_mode, settings.p) == ("random", 0.5)
