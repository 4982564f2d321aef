"""Each method against its plain baseline, per seed, through the real CLIs:
the claims tables of docs/agnet.md and docs/fsa.md.

    python bench/claims.py --methods agnet fsa --seeds 0 1 2
    python bench/claims.py --methods agnet --sets fashion fashion-heldout
    python bench/claims.py --methods fsa --sets where-plain-heldout --per-class 800

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
- where, where-plain: FSA's demos (class = position of a digit; with and
  without the corner-square shortcut).
- where-heldout, where-plain-heldout: the same built from Fashion-MNIST
  test items instead of digits (one class has no masks); 200 images a class
  like the demos, or ``--per-class N`` (800: a test split of 600 instead of
  150, the split issue 29's figures fit: 0.860 = 516 / 600, the maskless
  class's recall 0.30 = 36 / 120).

Prints one Markdown table, a row per (data set, method), as rows finish;
progress and failures go to stderr.
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

    def command(self):
        return __import__(self.module, fromlist=["COMMAND"]).COMMAND


METHODS = {
    "agnet": Method("agnet.train", (), "common.train", (), "plain (common.train)",
                    ("fashion", "fashion-heldout"), ("fashion", "fashion-heldout")),
    "fsa": Method("fsa.train", ("--variant", "fsa"), "fsa.train", ("--variant", "ce"),
                  "cross-entropy (--variant ce)",
                  ("where", "where-plain", "where-heldout", "where-plain-heldout"),
                  ("where-heldout", "where-plain-heldout")),
}
SET_NAMES = ("fashion", "fashion-heldout", "where", "where-plain", "where-heldout",
             "where-plain-heldout")


def data_args(name, work, per_class=None):
    """--data (and --masks) of data set ``name``, building it under ``work``."""
    if name in ("fashion", "where", "where-plain"):
        return ["--data", f"demo:{name}"]
    csv = heldout_set(name, work, per_class)
    if name == "fashion-heldout":
        return ["--data", csv]
    return ["--data", csv, "--masks", os.path.join(os.path.dirname(csv), "masks.npz")]


def accuracies(module, args, seeds, folder):
    results = []
    for seed in seeds:
        out = f"{folder}-{seed}"
        metrics, stderr = train(module, args, seed, out, reuse=True)
        if metrics is None:
            print(f"{module} {' '.join(args)} seed {seed} failed: {' '.join(stderr)}",
                  file=sys.stderr, flush=True)
            results.append(float("nan"))
        else:
            results.append(float(metrics["accuracy"]))
        print(f"  {os.path.basename(out)}: {results[-1]:.3f}", file=sys.stderr, flush=True)
    return results


def row(name, method, method_accuracies, baseline_accuracies):
    per_seed = lambda values: " / ".join(f"{v:.3f}" for v in values)  # noqa: E731
    return (f"| {name} | {method} | {per_seed(method_accuracies)} | "
            f"{METHODS[method].baseline_name} | {per_seed(baseline_accuracies)} | "
            f"**{np.mean(method_accuracies):.3f}** | {np.mean(baseline_accuracies):.3f} |")


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
    print(f"| data set | method | test accuracy, seeds {seeds} | baseline | baseline, "
          f"seeds {seeds} | method mean | baseline mean |")
    print("|---|---|---|---|---|---|---|", flush=True)
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
            ours = accuracies(method.module, [*data, "--config", settings, *method.args,
                                              *args.flags.split(), *args.extra.split()],
                              args.seeds, runs)
            theirs = accuracies(method.baseline_module,
                                [*data, "--config", baseline_settings, *method.baseline_args,
                                 *args.flags.split()],
                                args.seeds, f"{runs}-base")
            print(row(label, method_name, ours, theirs), flush=True)


if __name__ == "__main__":
    main()
