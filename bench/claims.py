"""Each method against its plain baseline, per seed, through the real CLIs:
the claims tables of docs/agnet.md and docs/fsa.md.

    python bench/claims.py --methods agnet fsa --seeds 0 1 2
    python bench/claims.py --methods agnet --sets fashion fashion-heldout
    python bench/claims.py --methods fsa --sets where-plain-heldout --per-class 800
    python bench/claims.py --methods agnet --ablations --sets fashion-heldout-b digits-clutter

Every run is a subprocess (``python -m <pkg>.train``) in its own folder
under a temporary directory, with the method's demo settings (written as a
--config file, so a --data set gets the same budget as the demo); its test
accuracy is read from the run's metrics.json. The baseline gets the same
data, image size, augmentation, epochs, optimiser, learning rate and batch
size:

- agnet: ``python -m common.train`` (backbone -> GAP -> softmax) with
  AG-Net's demo settings (tiny backbone, 64 px, 8 epochs, Adam 1e-3,
  batch 32, rotation 15, zoom 0.15, translation 0.15).
- fsa: ``python -m fsa.train --variant ce`` (cross-entropy alone, the same
  network) against ``--variant fsa``, 6 + 6 epochs from scratch.

Data sets (built once per invocation; held-out ones from images no demo
uses, as common.data.demo builds the demos):

- fashion: AG-Net's demo (``demo:fashion``, Fashion-MNIST train images).
- fashion-heldout: the same 10 classes, 300 images each, from
  Fashion-MNIST's test split.
- fashion-heldout-b: the next 300 test images of each class in the same
  draw (no image in both).
- digits-clutter: not Fashion-MNIST: scikit-learn's digits, each a quarter
  to half of a 64 px canvas of clutter.
- photo-crops: photographs: crops of foolbox's 20 ImageNet photos, a class
  each, test crops from a part of the photo no training crop overlaps (the
  pretrained regime: ``--flags "--backbone efficientnet_lite0 --weights
  imagenet --image-size 128 --lr 1e-4"``).
- where, where-plain: FSA's demos (class = position of a digit; with and
  without the corner-square shortcut).
- where-heldout, where-plain-heldout: the same built from Fashion-MNIST
  test items instead of digits (one class has no masks); 200 images a class
  like the demos, or ``--per-class N`` (800: a test split of 600 instead of
  150, the split issue 29's figures fit: 0.860 = 516 / 600, the maskless
  class's recall 0.30 = 36 / 120).

``--ablations``: the method's ablations too (AG-Net: the paper's Table VII
components, one switch each), every one against the same baseline runs.

Prints one Markdown table, a row per (data set, method), as rows finish;
progress and failures go to stderr. Each side's spread is its seed-to-seed
range (max - min); the reading is "ahead" or "behind" when the difference of
the means exceeds the larger of the two spreads, else "level".
"""

import argparse
import dataclasses
import os
import sys
import tempfile

import numpy as np

from heldout import demo_settings, heldout_set, set_folder, train  # sets sys.path
from common.train import COMMAND as PLAIN


@dataclasses.dataclass(frozen=True)
class Method:
    module: str
    args: tuple
    baseline_module: str
    baseline_args: tuple
    baseline_name: str
    sets: tuple  # the data sets it applies to
    default_sets: tuple
    ablations: tuple = ()  # (name, flags) of --ablations

    def command(self):
        return __import__(self.module, fromlist=["COMMAND"]).COMMAND


AGNET_ABLATIONS = (("no regions", ("--no-regions",)),
                   ("no self-attention", ("--no-self-attention",)),
                   ("no SE blocks", ("--no-se-blocks",)),
                   ("no inter-attention", ("--no-inter-attention",)),
                   ("GAP only", ("--pooling", "gap")))
METHODS = {
    "agnet": Method("agnet.train", (), "common.train", (), "plain (common.train)",
                    ("fashion", "fashion-heldout", "fashion-heldout-b", "digits-clutter",
                     "photo-crops"),
                    ("fashion", "fashion-heldout"), AGNET_ABLATIONS),
    "fsa": Method("fsa.train", ("--variant", "fsa"), "fsa.train", ("--variant", "ce"),
                  "cross-entropy (--variant ce)",
                  ("where", "where-plain", "where-heldout", "where-plain-heldout"),
                  ("where-heldout", "where-plain-heldout")),
}
SET_NAMES = ("fashion", "fashion-heldout", "fashion-heldout-b", "digits-clutter", "photo-crops",
             "where", "where-plain", "where-heldout",
             "where-plain-heldout")


def data_args(name, work, per_class=None):
    """--data (and --masks) of data set ``name``, building it under ``work``."""
    if name in ("fashion", "where", "where-plain"):
        return ["--data", f"demo:{name}"]
    csv = heldout_set(name, work, per_class)
    if not name.startswith("where"):
        return ["--data", csv]
    return ["--data", csv, "--masks", os.path.join(os.path.dirname(csv), "masks.npz")]


FAILED_MARK = "\u2020"  # a run that finished and failed (its FAILED note)


def accuracies(module, args, seeds, folder, failures):
    """(test accuracy per seed (nan: no metrics), whether each run failed
    after writing them: stuck at chance, dead CAMs); a failed run is said on
    stderr and added to ``failures`` as (run folder, reason)."""
    results, failed = [], []
    for seed in seeds:
        out = f"{folder}-{seed}"
        metrics, stderr = train(module, args, seed, out, reuse=True)
        reason = (metrics or {}).get("failed")
        if metrics is None:
            print(f"{module} {' '.join(args)} seed {seed} failed: {' '.join(stderr)}",
                  file=sys.stderr, flush=True)
        elif reason:
            failures.append((os.path.basename(out), reason))
        results.append(float("nan") if metrics is None else float(metrics["accuracy"]))
        failed.append(bool(reason))
        note = f" (FAILED: {reason})" if reason else ""
        print(f"  {os.path.basename(out)}: {results[-1]:.3f}{note}", file=sys.stderr, flush=True)
    return results, failed


def reading(method_accuracies, baseline_accuracies):
    """(difference of the means, larger seed-to-seed spread, "ahead" /
    "level" / "behind"): ahead or behind only when the difference exceeds
    the spread of both sides."""
    spread = max(np.ptp(method_accuracies), np.ptp(baseline_accuracies))
    difference = float(np.mean(method_accuracies) - np.mean(baseline_accuracies))
    word = "ahead" if difference > spread else "behind" if difference < -spread else "level"
    return difference, float(spread), word


HEADER = ("| data set | method | test accuracy, seeds {seeds} | baseline | baseline, seeds "
          "{seeds} | method mean (spread) | baseline mean (spread) | difference | reading |")


def row(name, method, ours, theirs, baseline_name):
    """A table row from (accuracies, failed flags) of each side: a failed
    run's accuracy carries ``FAILED_MARK``."""
    def per_seed(side):
        return " / ".join(f"{v:.3f}{FAILED_MARK if bad else ''}" for v, bad in zip(*side))

    def mean(values):
        return f"{np.mean(values):.3f} ({np.ptp(values):.3f})"
    difference, _, word = reading(ours[0], theirs[0])
    return (f"| {name} | {method} | {per_seed(ours)} | {baseline_name} | {per_seed(theirs)} | "
            f"**{mean(ours[0])}** | {mean(theirs[0])} | {difference:+.3f} | {word} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", choices=sorted(METHODS), default=sorted(METHODS))
    parser.add_argument("--sets", nargs="+", choices=SET_NAMES,
                        help="data sets (default: each method's own); a set a method "
                             "does not apply to is skipped for it")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--per-class", type=int, help="images a class of the held-out "
                        "'where' sets (default: the demo's 200, a test split of 150)")
    parser.add_argument("--ablations", action="store_true",
                        help="the method's ablations too (AG-Net: Table VII's components)")
    parser.add_argument("--extra", default="", help="more flags for the method's runs only")
    parser.add_argument("--flags", default="", help="more flags for both sides' runs (e.g. "
                                                    "'--keep last')")
    parser.add_argument("--work", help="folder for data sets and runs (default: a new "
                                       "temporary one); the finished runs already in it "
                                       "are read, not trained again, so an interrupted "
                                       "table resumes")
    args = parser.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="claims-")
    os.makedirs(work, exist_ok=True)
    print(f"runs in {work}", file=sys.stderr, flush=True)
    seeds = " ".join(str(s) for s in args.seeds)
    print(HEADER.format(seeds=seeds))
    print("|---|---|---|---|---|---|---|---|---|", flush=True)
    failures = []
    for method_name in args.methods:
        method = METHODS[method_name]
        command = method.command()
        settings = os.path.join(work, f"{method_name}-settings.yaml")
        demo_settings(settings, command)
        baseline_settings = os.path.join(work, f"{method_name}-baseline-settings.yaml")
        baseline_command = PLAIN if method.baseline_module == "common.train" else command
        demo_settings(baseline_settings, command, keep=baseline_command.all_flags())
        for name in args.sets or method.default_sets:
            if name not in method.sets:
                continue
            data = data_args(name, work, args.per_class)
            label = set_folder(name, args.per_class)
            runs = os.path.join(work, f"{label}-{method_name}")
            theirs = accuracies(method.baseline_module,
                                [*data, "--config", baseline_settings, *method.baseline_args,
                                 *args.flags.split()],
                                args.seeds, f"{runs}-base", failures)
            variants = [(method_name, ())] + [(f"{method_name}, {name}", flags) for name, flags
                                               in (method.ablations if args.ablations else ())]
            for variant, flags in variants:
                folder = runs + "".join(f"-{flag.strip('-')}" for flag in flags)
                ours = accuracies(method.module, [*data, "--config", settings, *method.args,
                                                  *flags, *args.flags.split(),
                                                  *args.extra.split()], args.seeds, folder,
                                  failures)
                print(row(label, variant, ours, theirs, method.baseline_name), flush=True)
    if failures:
        print(f"\n{FAILED_MARK} the run finished and failed (its FAILED note): " + "; ".join(
            f"{name}: {reason}" for name, reason in failures))


if __name__ == "__main__":
    main()
