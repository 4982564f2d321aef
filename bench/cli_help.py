"""Seconds each command takes to answer --help (the installed console
scripts when on PATH, else ``python -m``): median and min-max of alternating
rounds over the commands. Goal: under 2 s.

    python bench/cli_help.py [--rounds 5]
"""

import argparse
import os
import shutil
import subprocess
import sys
import time

import numpy as np

COMMANDS = {"attention-train": "common.train", "agnet-train": "agnet.train",
            "fsa-train": "fsa.train", "distraction-train": "distraction.train",
            "fam-train": "fam.train", "agnet-predict": "agnet.predict",
            "fam-evaluate": "fam.evaluate", "attention-explain": "common.explain",
            "attention-evaluate": "common.evaluate", "attention-report": "common.report"}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": ROOT}
    times = {name: [] for name in COMMANDS}
    for _ in range(args.rounds):
        for name, module in COMMANDS.items():
            command = [shutil.which(name)] if shutil.which(name) else [sys.executable, "-m",
                                                                     module]
            start = time.perf_counter()
            subprocess.run([*command, "--help"], env=env, capture_output=True, check=True)
            times[name].append(time.perf_counter() - start)
    for name, values in times.items():
        print(f"{name} --help: median {np.median(values):.2f} s (min {min(values):.2f}, "
              f"max {max(values):.2f}) over {args.rounds} rounds (goal < 2 s)")


if __name__ == "__main__":
    main()
