"""The explanation metrics of ``attention-evaluate`` folders in
``attention-report``: each folder is matched to the run whose model it
evaluated, and its numbers become rows of one table, runs side by side."""

import json
import os

from common.errors import quoted, summary
from common.io import read_json
from common.training.runfolder import run_file

# (label, key in a map source's metrics): arrows say which way is better.
EXPLANATION_METRICS = [
    ("deletion AUC (lower is better)", "deletion_auc"),
    ("insertion AUC (higher)", "insertion_auc"),
    ("average drop % (lower)", "average_drop_pct"),
    ("increase in confidence % (higher)", "increase_in_confidence_pct"),
    ("pointing game % (higher)", "pointing_game_pct"),
    ("energy pointing game % (higher)", "energy_pointing_game_pct"),
    ("GT-known Loc %", "gt_known_loc_pct"), ("Top-1 Loc %", "top1_loc_pct"),
    ("MaxBoxAccV2 %", "max_box_acc_v2_pct"), ("PxAP %", "pxap_pct")]


def attach_evaluations(folders, runs, error):
    """Sets ``run["evaluation"]`` (its metrics.json) for each folder in
    ``folders``, matched by the model path it records; ``error``, the
    exception type raised for a folder that is none or matches no run."""
    by_folder = {os.path.realpath(run["folder"]): run for run in runs}
    for folder in folders:
        path = os.path.join(folder, "metrics.json")
        try:
            metrics = read_json(run_file(folder, "metrics.json"))
        except (OSError, ValueError) as failure:
            raise error(f"--evaluations: '{folder}' holds no readable metrics.json of "
                        f"attention-evaluate ({summary(failure, 200)})") from None
        if not isinstance(metrics, dict) or not isinstance(metrics.get("maps"), dict) \
                or not all(isinstance(v, dict) for v in metrics["maps"].values()) \
                or not isinstance(metrics.get("model"), str):
            raise error(f"--evaluations: '{path}' was not written by attention-evaluate")
        run = by_folder.get(os.path.realpath(os.path.dirname(str(metrics["model"]))))
        if run is None:
            raise error(f"--evaluations: '{folder}' evaluated {quoted(metrics['model'], 80)}, "
                        "the model of none of the runs given")
        if "evaluation" in run:
            raise error(f"--evaluations: two folders evaluated run '{run['folder']}'")
        run["evaluation"] = metrics


def evaluation_rows(runs):
    """Table rows (label, value per run): what was evaluated, then per map
    source the metrics any run has; None where a run has none."""
    evaluations = [run.get("evaluation") or {} for run in runs]
    rows = [(label, [e.get(key) for e in evaluations])
            for label, key in (("data", "data"), ("split", "split"), ("images", "images"),
                               ("accuracy", "accuracy"))]
    sources = list(dict.fromkeys(name for e in evaluations for name in e.get("maps", {})))
    for source in sources:
        for label, key in EXPLANATION_METRICS:
            values = [e.get("maps", {}).get(source, {}).get(key) for e in evaluations]
            if any(v is not None for v in values):
                rows.append((f"{source}: {label}", values))
    return rows


def evaluation_warning(runs):
    """A sentence when the evaluations differ in data, split or settings."""
    evaluations = [run["evaluation"] for run in runs if run.get("evaluation")]
    seen = {json.dumps([e.get("data"), e.get("split"), {
        k: v for k, v in (e.get("settings") or {}).items() if k != "maps"}], sort_keys=True)
        for e in evaluations}
    if len(seen) <= 1:
        return ""
    return ("The evaluations differ in data, split or settings (steps, baselines): their "
            "explanation metrics do not compare.")
