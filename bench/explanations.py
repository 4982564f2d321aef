"""Does guidance make the maps more faithful? Each method against its
baseline on held-out data, seeds 0-2, scored by ``attention-evaluate``:
the explanation-metrics finding of docs/faithfulness.md.

    python bench/explanations.py --work /tmp/explanations
    python bench/explanations.py --pairs hnc fam --seeds 0 1 2

Each run trains through the real CLI (``python -m <pkg>.train``, the
method's demo settings as a --config file, both sides the same), then
``python -m common.evaluate --maps gradcam,cam --steps 50`` scores its test
split:

- distraction: ``distraction.train --p 0.25`` vs ``--p 0``, wsol-heldout;
- hnc: ``common.train --hnc-weight 0.07 --hnc-k 3`` vs ``--hnc-weight 0``,
  wsol-heldout;
- fam: ``fam.train`` vs ``fam.train --baseline`` (the plain CAM classifier),
  wsol-heldout; ``cam`` is FAM's part-weighted class map on the FAM side,
  and the row "trainer's map" holds the localisation that fam.train scores
  itself: FAM's foreground map M against the baseline's CAM;
- fsa: ``fsa.train`` vs ``--variant ce``, where-plain-heldout (class = where
  a Fashion-MNIST item lies; no boxes, so no pointing or WSOL metrics; the
  runs are bench/claims.py's when both use one --work folder and the same
  --per-class).

wsol-heldout is the 'wsol' demo built from Fashion-MNIST test items (2,000
images at 64 px, boxes in the CSV); distraction and hnc train at 64 px
there so both see the same images as FAM. Prints one Markdown table: per
pair and map source, each metric's mean over seeds for the method and the
baseline, and on how many seeds the method is better (direction of each
metric in the header); per-run values go to WORK/explanations.json.
"""

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from heldout import ROOT, demo_settings, heldout_set, set_folder, train  # sets sys.path

# (metrics.json key, column title, +1 higher is better / -1 lower is better)
METRICS = (("accuracy", "accuracy", 1), ("deletion_auc", "deletion AUC", -1),
           ("insertion_auc", "insertion AUC", 1),
           ("deletion_share", "deletion AUC / p", -1), ("insertion_share", "insertion AUC / p", 1),
           ("average_drop_pct", "avg drop %", -1),
           ("increase_in_confidence_pct", "increase %", 1),
           ("pointing_game_pct", "pointing %", 1),
           ("energy_pointing_game_pct", "energy pointing %", 1),
           ("max_box_acc_v2_pct", "MaxBoxAccV2 %", 1))
MAPS = ("gradcam", "cam")


@dataclasses.dataclass(frozen=True)
class Pair:
    module: str
    method_args: tuple
    baseline_args: tuple
    title: str
    data: str
    both_args: tuple = ()


PAIRS = {
    "distraction": Pair("distraction.train", ("--p", "0.25"), ("--p", "0"),
                        "occlusion p=0.25 vs p=0", "wsol-heldout", ("--image-size", "64")),
    "hnc": Pair("common.train", ("--hnc-weight", "0.07", "--hnc-k", "3"),
                ("--hnc-weight", "0"), "HNC on vs off", "wsol-heldout",
                ("--image-size", "64")),
    "fam": Pair("fam.train", (), ("--baseline",), "FAM vs CAM", "wsol-heldout"),
    "fsa": Pair("fsa.train", ("--variant", "fsa"), ("--variant", "ce"),
                "FSA vs cross-entropy", "where-plain-heldout"),
}
STEPS = 50  # of the deletion and insertion curves: 2 x 51 forward passes an image a map


def dataset(name, work, per_class=None):
    """--data and --masks of a held-out set, built under ``work`` once."""
    csv = heldout_set(name, work, per_class)
    masks = os.path.join(os.path.dirname(csv), "masks.npz")
    return csv, (["--masks", masks] if os.path.isfile(masks) else [])


def evaluate(run, csv):
    """The run's explanation metrics (``attention-evaluate``), or None."""
    out = os.path.join(run, "explanations")
    path = os.path.join(out, "metrics.json")
    if not os.path.isfile(path):
        done = subprocess.run(
            [sys.executable, "-m", "common.evaluate", "--model",
             os.path.join(run, "model.keras"), "--data", csv, "--out", out, "--maps",
             ",".join(MAPS), "--steps", str(STEPS), "--pictures", "4", "--verbose", "0",
             "--overwrite"],
            cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ROOT})
        if not os.path.isfile(path):
            print(f"evaluation of {run} failed: {done.stderr.strip()[-300:]}",
                  file=sys.stderr, flush=True)
            return None
    with open(path) as handle:
        return json.load(handle)


def scores(result):
    """{map source: {metric: value}} of one evaluation (accuracy in each).
    The AUCs are in units of the explained class's probability, so a less
    confident model has smaller ones; ``*_share`` divides them by the mean
    probability on the clean images (the deletion curve's start), which
    leaves what the order of the pixels does."""
    out = {}
    for name, values in result["maps"].items():
        clean = values["deletion_curve"][0]
        values = {**values, "deletion_share": values["deletion_auc"] / clean,
                  "insertion_share": values["insertion_auc"] / clean}
        out[name] = {"accuracy": result["accuracy"],
                     **{key: values[key] for key, _, _ in METRICS if key in values}}
    return out


def run_side(pair, side_args, seeds, folder, work, per_class=None):
    csv, masks = dataset(pair.data, work, per_class)
    command = __import__(pair.module, fromlist=["COMMAND"]).COMMAND
    settings = demo_settings(os.path.join(work, f"{pair.module}-settings.yaml"), command)
    out = []
    for seed in seeds:
        run = f"{folder}-{seed}"
        metrics, stderr = train(pair.module, ["--data", csv, *masks, "--config", settings,
                                              *pair.both_args, *side_args], seed, run,
                                reuse=True)
        result = evaluate(run, csv) if metrics is not None else None
        if result is None:
            print(f"{run} failed: {' '.join(stderr)}", file=sys.stderr, flush=True)
            out.append(None)
            continue
        out.append(scores(result))
        if isinstance(metrics.get("localization"), dict):  # FAM's trainer: its own map
            out[-1]["trainer's map"] = {"accuracy": result["accuracy"],
                                        **metrics["localization"]}
        print(f"  {os.path.basename(run)}: accuracy {result['accuracy']:.3f}",
              file=sys.stderr, flush=True)
    return out


def cell(ours, theirs, key, direction):
    pairs = [(a[key], b[key]) for a, b in zip(ours, theirs)
             if a is not None and b is not None and key in a and key in b]
    if not pairs:
        return "–"
    a, b = np.array(pairs).T
    better = int(np.sum(direction * (a - b) > 0))
    digits = 1 if key.endswith("_pct") else 3
    return f"{a.mean():.{digits}f} / {b.mean():.{digits}f} ({better}/{len(pairs)})"


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", nargs="+", choices=sorted(PAIRS), default=list(PAIRS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--work", help="folder for data sets and runs (default: a new "
                                       "temporary one); finished runs and evaluations in "
                                       "it are read, not redone")
    parser.add_argument("--per-class", type=int, help="images a class of where-plain-heldout "
                        "(default: the demo's 200; see bench/claims.py)")
    parser.add_argument("--side", choices=("both", "method", "baseline"), default="both",
                        help="train and score only one side (two invocations on one "
                             "--work folder run side by side; a third prints the table)")
    args = parser.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="explanations-")
    os.makedirs(work, exist_ok=True)
    print(f"runs in {work}", file=sys.stderr, flush=True)
    titles = " | ".join(f"{title} {'↑' if d > 0 else '↓'}" for _, title, d in METRICS)
    print(f"| pair (data) | maps | {titles} |")
    print("|---|---|" + "---|" * len(METRICS), flush=True)
    everything = {}
    for name in args.pairs:
        pair = PAIRS[name]
        data = set_folder(pair.data, args.per_class)
        folder = os.path.join(work, f"{data}-{name}")  # as bench/claims.py names runs
        skip = [None] * len(args.seeds)
        ours = (run_side(pair, pair.method_args, args.seeds, folder, work, args.per_class)
                if args.side != "baseline" else skip)
        theirs = (run_side(pair, pair.baseline_args, args.seeds, f"{folder}-base", work,
                           args.per_class) if args.side != "method" else skip)
        everything[name] = {"method": ours, "baseline": theirs, "seeds": args.seeds}
        for source in (*MAPS, "trainer's map"):
            if not any(r and source in r for r in ours):
                continue
            mine = [r and r.get(source) for r in ours]
            base = [r and r.get(source) for r in theirs]
            cells = " | ".join(cell(mine, base, key, d) for key, _, d in METRICS)
            print(f"| {pair.title} ({data}) | {source} | {cells} |", flush=True)
    with open(os.path.join(work, "explanations.json"), "w") as handle:
        json.dump(everything, handle, indent=1)


if __name__ == "__main__":
    main()
