"""configs/<method>/<dataset>.yaml: every recipe resolves through its
method's CLI with its dataset's format, and one recipe per method trains
an epoch on a tiny fixture in that format (the paper's backbone and size
swapped for the tiny ones on the command line, which wins over the file)."""

import glob
import importlib
import json
import os

import pandas as pd
import pytest
import yaml

from common.training.entry import main, parse
from tests.common import benchmark_fixtures as fixtures
from tests.predictions import accuracy_from_predictions

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(glob.glob(os.path.join(ROOT, "configs", "*", "*.yaml")))


def _command(config):
    method = os.path.basename(os.path.dirname(config))
    return importlib.import_module(f"{method}.train").COMMAND


def test_there_is_a_recipe_for_every_method():
    methods = {os.path.basename(os.path.dirname(c)) for c in CONFIGS}
    assert methods == {"common", "agnet", "fsa", "distraction", "fam"}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: os.path.relpath(c, ROOT))
def test_recipe_resolves_through_the_cli(config, tmp_path):
    dataset = os.path.splitext(os.path.basename(config))[0]
    masks = ["--masks", "masks.npz"] if "/fsa/" in config else []  # fsa: yours, required
    args = parse(_command(config), ["--config", config, "--data", f"{dataset}:{tmp_path}",
                                    "--output", str(tmp_path / "run"), *masks])
    written = yaml.safe_load(open(config))
    for key, value in written.items():  # the file's values, not the defaults
        assert getattr(args, key) == (None if value == "none" else value), key
    assert args.image_size == 224 and args.weights == "imagenet"


SMOKE = {"agnet": "stanford40", "fsa": "statefarm", "distraction": "cars", "fam": "cub",
         "common": "voc2007"}
MULTI_LABEL = {"voc2007"}


@pytest.mark.parametrize("method", sorted(SMOKE))
def test_one_recipe_per_method_trains_an_epoch_on_its_format(method, tmp_path):
    dataset = SMOKE[method]
    root = tmp_path / dataset
    getattr(fixtures, f"make_{dataset}")(str(root))
    config = os.path.join(ROOT, "configs", method, f"{dataset}.yaml")
    argv = ["--config", config, "--data", f"{dataset}:{root}", "--epochs", "1",
            "--backbone", "tiny", "--weights", "none", "--image-size", "32", "--batch-size",
            "4", "--verbose", "0", "--at-chance", "warn", "--output", str(tmp_path / "run")]
    if method == "fsa":
        masks = tmp_path / "masks.json"
        masks.write_text(json.dumps({"image_size": [32, 32], "classes": {
            "c0": {"centers": [[8, 8]], "sigma": 4}, "c1": {"centers": []}}}))
        argv = [a for a in argv if a not in ("--backbone", "tiny")]  # SqueezeNet only
        argv += ["--masks", str(masks), "--fsa-stage1-epochs", "1", "--fsa-stage2-epochs", "0",
                 "--image-size", "64"]
    if method == "agnet":
        os.environ["AGNET_REGION_CACHE"] = str(tmp_path / "regions")
        argv += ["--num-primary", "2"]
    try:
        run = main(_command(config), argv)
    finally:
        os.environ.pop("AGNET_REGION_CACHE", None)
    assert len(pd.read_csv(os.path.join(run, "history.csv"))) == 1
    resolved = yaml.safe_load(open(os.path.join(run, "config.yaml")))
    assert resolved["data"] == f"{dataset}:{root}" and resolved["backbone"] in ("tiny",
                                                                               "squeezenet1_1")
    metrics = json.loads(open(os.path.join(run, "metrics.json")).read())
    assert metrics["accuracy"] == pytest.approx(
        accuracy_from_predictions(run, multi_label=dataset in MULTI_LABEL))
