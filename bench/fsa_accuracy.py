"""FSA against cross-entropy with the same budget, per seed: on the demos
(where: a class-coded corner square in train only; where-plain: no
shortcut) and on held-out sets built the same way from other objects
(Fashion-MNIST items instead of digits), each with the demo's settings.

    python bench/fsa_accuracy.py --sets where where-plain heldout heldout-plain \
        --variants ce fsa --seeds 0 1 2

Prints one row per (set, variant): test accuracy per seed and the lowest
cam_alive of any epoch after the third.
"""

import argparse
import os
import tempfile

import numpy as np
import pandas as pd

from heldout import demo_settings, heldout_where, train
from fsa.train import COMMAND


def run(data_args, variant, seed, out, extra):
    metrics, stderr = train("fsa.train", [*data_args, "--variant", variant, *extra], seed, out)
    if metrics is None:
        return float("nan"), float("nan"), stderr
    history = pd.read_csv(os.path.join(out, "history.csv"))
    alive = history["cam_alive"].iloc[3:].min() if len(history) > 3 else float("nan")
    return metrics["accuracy"], alive, [line for line in stderr if "warning" in line]


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=["where", "where-plain"])
    parser.add_argument("--variants", nargs="+", default=["ce", "fsa"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--extra", default="", help="more fsa.train flags, one string")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="fsa-accuracy-")
    # the demo's settings, for --data sets too
    settings = demo_settings(os.path.join(work, "demo-settings.yaml"), COMMAND)
    rows = []
    for name in args.sets:
        if name.startswith("heldout"):
            csv = heldout_where(os.path.join(work, name), decoy=name == "heldout")
            data_args = ["--data", csv, "--masks", os.path.join(os.path.dirname(csv),
                                                                  "masks.npz"),
                         "--config", settings]
        else:
            data_args = ["--data", f"demo:{name}"]
        for variant in args.variants:
            results = [run(data_args, variant, seed,
                           os.path.join(work, f"{name}-{variant}-{seed}"), args.extra.split())
                       for seed in args.seeds]
            accuracies = [r[0] for r in results]
            rows.append((name, variant, accuracies, min(r[1] for r in results)))
            print(f"{name:14s} {variant:7s} " + " ".join(f"{a:.3f}" for a in accuracies) +
                  f"  mean {np.mean(accuracies):.3f}  min cam_alive after epoch 3 "
                  f"{rows[-1][3]:.3f}", flush=True)
            for result in results:
                for line in result[2]:
                    print("   ", line)


if __name__ == "__main__":
    main()
