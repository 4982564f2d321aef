"""Does evaluation memory grow with the test set? Peak resident memory of

  (a) ``python -m fam.evaluate`` on a tiny FAM network, and
  (b) a trainer's final evaluation: ``python -m distraction.train --epochs 1``
      on the same small training set (the erased test included),

each with two test sets ``--factor`` times apart, made from the demo's WSOL
images (``common.data.demo``, rows repeated). Every measurement is a fresh
process; its peak RSS comes from ``os.wait4``. Goal: ratio <= 1.25.

    python bench/eval_memory.py [--small 300] [--factor 10] [--size 160]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def peak_rss_mb(command):
    """Peak resident memory (MB) of a command run in a fresh process."""
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    stderr = process.stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{command[:3]} failed:\n{stderr[-2000:]}")
    return usage.ru_maxrss / 1024  # kB on Linux


def tables(folder, size, counts, train=64):
    """CSV paths: per test size, ``train`` train and val rows and that many
    test rows, absolute paths, the demo's WSOL boxes."""
    import pandas as pd

    from common.data.demo import demo_csv
    source = demo_csv("wsol", size)
    frame = pd.read_csv(source)
    frame["path"] = [os.path.join(os.path.dirname(source), p) for p in frame["path"]]
    paths = {}
    for count in counts:
        parts = [frame.head(train).assign(split="train"),
                 frame.iloc[train:2 * train].assign(split="val"),
                 frame.sample(count, replace=count > len(frame), random_state=0)
                 .assign(split="test")]
        paths[count] = os.path.join(folder, f"data-{count}.csv")
        pd.concat(parts).to_csv(paths[count], index=False)
    return paths, sorted(frame["label"].astype(str).unique())


def fam_model(folder, size, classes):
    import keras

    from common.backbones import build_backbone
    from fam.model import build_fam
    keras.utils.set_random_seed(0)
    network = build_fam(build_backbone("tiny", (size, size, 3)), len(classes)).network
    path = os.path.join(folder, "model.keras")
    network.save(path)
    with open(os.path.join(folder, "classes.json"), "w") as handle:
        json.dump(classes, handle)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=300)
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    counts = (args.small, args.small * args.factor)
    with tempfile.TemporaryDirectory() as folder:
        csvs, classes = tables(folder, args.size, counts)
        model = fam_model(folder, args.size, classes)
        commands = {
            "fam.evaluate": lambda count: [
                sys.executable, "-m", "fam.evaluate", "--model", model, "--data", csvs[count],
                "--out", os.path.join(folder, f"eval-{count}"), "--verbose", "0",
                "--pictures", "4", "--batch-size", str(args.batch_size)],
            "distraction final evaluation": lambda count: [
                sys.executable, "-m", "distraction.train", "--data", csvs[count],
                "--output", os.path.join(folder, f"train-{count}"), "--epochs", "1",
                "--backbone", "tiny", "--image-size", str(args.size), "--weights", "none",
                "--batch-size", str(args.batch_size), "--at-chance", "warn",
                "--verbose", "0"]}
        for name, command in commands.items():
            peaks = [peak_rss_mb(command(count)) for count in counts]
            print(f"{name}: peak RSS {peaks[0]:,.0f} MB for {counts[0]:,} test images, "
                  f"{peaks[1]:,.0f} MB for {counts[1]:,} ({args.size} px): ratio "
                  f"{peaks[1] / peaks[0]:.2f} (goal <= 1.25)", flush=True)


if __name__ == "__main__":
    main()
