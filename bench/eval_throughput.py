"""Is evaluation as fast as the model? Images per second, on the same
tf.data pipeline and a tiny FAM network, of

  predict        ``network.predict`` alone: the bound;
  final eval     what a trainer's final evaluation does for classification
                 (predict with its progress callback, the metrics,
                 predictions.csv); goal: within 1.2x of predict;
  maps           FAM's foreground maps alone (the model part of localisation);
  box metrics    the metric part alone (boxes at 0.5, MaxBoxAccV2 over 100
                 thresholds) on maps computed beforehand;
  localisation   ``fam.localization.evaluate_localization``: both per batch.
                 Overlap shows as localisation < maps + box metrics.

The sides alternate (A B C ... A B C), so a busy machine slows all of them
alike; each ratio is the median over rounds with its min-max.

    python bench/eval_throughput.py [--images 256] [--size 128] [--rounds 5]
"""

import argparse
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from bench.timing import alternate  # noqa: E402


def setup(images, size):
    """The test table (demo WSOL images, rows repeated), classes, network."""
    import keras
    import pandas as pd

    from common.backbones import build_backbone
    from common.data.demo import demo_csv
    from common.data.formats import read_data
    from fam.model import build_fam
    source = demo_csv("wsol", size)
    frame = pd.read_csv(source)
    frame["path"] = [os.path.join(os.path.dirname(source), p) for p in frame["path"]]
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "test.csv")
        frame.sample(images, replace=images > len(frame), random_state=0).to_csv(path,
                                                                                 index=False)
        table, classes = read_data(path)
    keras.utils.set_random_seed(0)
    network = build_fam(build_backbone("tiny", (size, size, 3)), len(classes)).network
    return table, classes, network


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    import tensorflow as tf

    from common.cam import normalize_maps
    from common.data.pipeline import make_dataset
    from common.data.tables import encode_labels
    from common.training.final import write_predictions
    from common.training.metrics import classification_metrics
    from common.commandline.progress import PredictProgress
    from common.wsol_accumulators import BoxAccuracy, LocalizationCounts, scaled_boxes
    from common.wsol_metrics import box_from_map
    from fam.localization import evaluate_localization, map_function
    table, classes, network = setup(args.images, args.size)
    labels = encode_labels(table, classes)
    gts = scaled_boxes(table, args.size)

    def data():
        return make_dataset(table, classes, args.size, args.batch_size, cache=False)

    probabilities = network.predict(data(), verbose=0)
    maps_of = map_function(network, "fam")
    maps = np.concatenate([maps_of(images, labels[:len(images)]) for images, _ in data()])
    out = tempfile.mkdtemp()

    def final_eval():
        p = network.predict(data(), verbose=0, callbacks=[
            PredictProgress(len(table), args.batch_size, "test set", 0)])
        classification_metrics(labels, p, classes)
        write_predictions(os.path.join(out, "predictions.csv"), table, p, classes)

    def maps_only():
        start = 0
        for images, _ in data():
            maps_of(images, labels[start:start + len(images)])
            start += len(images)

    def box_metrics():
        counts, boxes = LocalizationCounts(), BoxAccuracy()
        for start in range(0, len(maps), args.batch_size):
            rows = slice(start, start + args.batch_size)
            part = maps[rows]
            counts.update([box_from_map(m, 0.5) for m in part], gts[rows],
                          probabilities[rows].argmax(-1), labels[rows])
            boxes.update(normalize_maps(tf.constant(part)).numpy(), gts[rows])

    sides = {"predict": lambda: network.predict(data(), verbose=0), "final eval": final_eval,
             "maps": maps_only, "box metrics": box_metrics,
             "localisation": lambda: evaluate_localization(
                 network, table, classes, args.size, probabilities, batch_size=args.batch_size)}
    # alternate() takes a returned value for the seconds: the sides return None.
    def timed(side):
        return lambda: [side(), None][1]
    times = alternate({name: timed(side) for name, side in sides.items()}, rounds=args.rounds)
    print(f"{args.images} images at {args.size} px, batch {args.batch_size}, "
          f"{os.cpu_count()} cores, {args.rounds} rounds (median, min-max of images/s):")
    for name, seconds in times.items():
        rates = args.images / np.asarray(seconds)
        print(f"  {name:<13} {np.median(rates):8.1f} images/s ({rates.min():.1f}-"
              f"{rates.max():.1f})")
    per_round = {k: np.asarray(v) for k, v in times.items()}
    for label, ratio in (
            ("final eval / predict (goal <= 1.2)", per_round["final eval"] / per_round["predict"]),
            ("localisation / (maps + box metrics) (1: no overlap; max/sum: full)",
             per_round["localisation"] / (per_round["maps"] + per_round["box metrics"])),
            ("localisation / predict", per_round["localisation"] / per_round["predict"])):
        print(f"  {label}: median {np.median(ratio):.2f} (min {ratio.min():.2f}, "
              f"max {ratio.max():.2f})")
    full = np.maximum(per_round["maps"], per_round["box metrics"]) / (
        per_round["maps"] + per_round["box metrics"])
    print(f"  (full overlap would be {np.median(full):.2f})")


if __name__ == "__main__":
    main()
