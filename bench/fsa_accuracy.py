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
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pandas as pd
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from common.data.demo import fashion_mnist, write_dataset  # noqa: E402
from common.data.where import make_where  # noqa: E402
from fsa.train import COMMAND  # noqa: E402


def heldout_set(folder, decoy, seed=11):
    """A 'where' set whose objects are Fashion-MNIST items (not digits)."""
    images, _ = fashion_mnist("test")
    rng = np.random.default_rng(seed)
    objects = images[rng.permutation(len(images))[:2000]]
    data = make_where(objects, 64, seed, rng, decoy=decoy)
    images, labels, splits, spec, masks = data
    return write_dataset(folder, images, labels, splits, None,
                         {"masks.json": spec, "masks.npz": masks})


def run(data_args, variant, seed, out, extra):
    command = [sys.executable, "-m", "fsa.train", *data_args, "--variant", variant,
               "--seed", str(seed), "--output", out, "--verbose", "0", *extra]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": ROOT})
    metrics_path = os.path.join(out, "metrics.json")
    if not os.path.isfile(metrics_path):
        return float("nan"), float("nan"), done.stderr.strip().splitlines()[-1:]
    accuracy = json.load(open(metrics_path))["accuracy"]
    history = pd.read_csv(os.path.join(out, "history.csv"))
    alive = history["cam_alive"].iloc[3:].min() if len(history) > 3 else float("nan")
    return accuracy, alive, [line for line in done.stderr.splitlines() if "warning" in line]


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=["where", "where-plain"])
    parser.add_argument("--variants", nargs="+", default=["ce", "fsa"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--extra", default="", help="more fsa.train flags, one string")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="fsa-accuracy-")
    settings = os.path.join(work, "demo-settings.yaml")
    with open(settings, "w") as handle:  # the demo's settings, for --data sets too
        yaml.safe_dump({**{k: v for k, v in COMMAND.demo_defaults.items() if k != "masks"},
                        "weights": "none"}, handle)
    rows = []
    for name in args.sets:
        if name.startswith("heldout"):
            csv = heldout_set(os.path.join(work, name), decoy=name == "heldout")
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
