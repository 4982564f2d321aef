"""Why AG-Net is where it is against its plain backbone (issue 42): what
its trained runs do with the regions, measured on their test images.

    python bench/agnet_probe.py --work /tmp/c42 --sets fashion-heldout-b digits-clutter

Reads bench/claims.py's finished runs in --work (``<set>-agnet-<seed>``
and ``<set>-agnet-base-<seed>``) and prints, per data set:

- region quality: SIFT keypoints per test image at the run's size, the
  share of images whose primary regions are the fixed grid (fewer
  keypoints than regions), the mean area of a primary box;
- reliance: test accuracy with the image's own regions, with every box set
  to the whole image, and with another test image's regions;
- eq. 3's region weights: the whole image's mean weight, the largest
  weight, their entropy over ln(R + 1) (1: uniform);
- gradient scale: the cross-entropy's gradient norm at the backbone's
  output, AG-Net against the plain run of the same seed (same images), and
  inside AG-Net at the pooled whole image against a mean region.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402


def test_images(csv, size, limit):
    from common.data.pipeline import decode_image  # as the trainer reads them
    frame = pd.read_csv(csv)
    frame = frame[frame["split"] == "test"]
    frame = frame.sample(n=min(limit, len(frame)), random_state=0)  # every class, seeded
    folder = os.path.dirname(csv)
    paths = [os.path.join(folder, p) for p in frame["path"]]
    classes = sorted(set(pd.read_csv(csv)["label"].astype(str)))
    labels = np.array([classes.index(str(v)) for v in frame["label"]])
    return paths, np.stack([decode_image(p, (size, size)).numpy() for p in paths]), labels


def region_quality(paths, size, num_primary):
    """Of the images as the region code reads them (agnet.cache.load_rgb)."""
    from agnet.cache import load_rgb
    from agnet.regions import keypoints, primary_regions
    images = [load_rgb(path, size) for path in paths]
    counts = np.array([len(keypoints(image)) for image in images])
    boxes = np.stack([primary_regions(image, num_primary) for image in images])
    area = ((boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])).mean()
    return counts, float(np.mean(counts < num_primary)), float(area)


def gradients(model, outputs, inputs, labels):
    """d(cross-entropy)/d(each of the model's symbolic tensors ``outputs``),
    one forward pass (as Grad-CAM reads a feature map's gradient)."""
    import keras
    import tensorflow as tf
    split = keras.Model(model.inputs, [*outputs, model.output])
    with tf.GradientTape() as tape:
        *features, probabilities = split(inputs, training=False)
        loss = keras.losses.sparse_categorical_crossentropy(labels, probabilities)
    return [g.numpy() for g in tape.gradient(loss, features)]


def norms(gradient):
    return np.sqrt((gradient.reshape(len(gradient), -1) ** 2).sum(axis=1)).mean()


def probe_run(run, plain_run, images, labels, paths, settings):
    from agnet.cache import compute_regions
    from agnet.inputs import RegionWeights
    from common.saving import load_model
    model, plain = load_model(os.path.join(run, "model.keras")), load_model(
        os.path.join(plain_run, "model.keras"))
    boxes = compute_regions(paths, images.shape[1], settings["num_primary"], settings["seed"],
                            settings.get("region_cache"), verbose=0)
    inputs = {"image": images, "regions": boxes}
    accuracy = lambda x: float(np.mean(model.predict(x, verbose=0).argmax(-1) == labels))  # noqa
    whole = np.tile(np.array([0, 0, 1, 1], np.float32), boxes.shape[:2] + (1,))
    other = np.roll(boxes, 1, axis=0)
    reliance = [accuracy(inputs), accuracy({**inputs, "regions": whole}),
                accuracy({**inputs, "regions": other})]
    chunks = [slice(i, i + 32) for i in range(0, len(labels), 32)]  # bounded memory
    region_weights = RegionWeights(model)
    weights = np.concatenate([region_weights({k: v[c] for k, v in inputs.items()}).numpy()
                              for c in chunks])
    entropy = -(weights * np.log(weights + 1e-12)).sum(1) / np.log(weights.shape[1])
    # the backbone's output: what self-attention (AG-Net) and GAP (plain) read
    outputs = [model.get_layer("self_attention").input, model.get_layer("region_pooling").output]
    gap = next(layer for layer in plain.layers if "pooling" in type(layer).__name__.lower())
    parts = [(*gradients(model, outputs, {k: v[c] for k, v in inputs.items()}, labels[c]),
              *gradients(plain, [gap.input], [images[c]], labels[c])) for c in chunks]
    at_backbone, pooled, plain_at_backbone = (np.concatenate(p) for p in zip(*parts))
    per_region = np.sqrt((pooled ** 2).reshape(*pooled.shape[:2], -1).sum(-1)).mean(0)
    return {"accuracy": reliance[0], "whole boxes": reliance[1], "other's boxes": reliance[2],
            "w whole": float(weights[:, -1].mean()), "w max": float(weights.max(1).mean()),
            "entropy": float(entropy.mean()),
            "grad backbone agnet/plain": float(norms(at_backbone) / norms(plain_at_backbone)),
            "grad whole/region": float(per_region[-1] / per_region[:-1].mean())}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", required=True)
    parser.add_argument("--sets", nargs="+", required=True)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--images", type=int, default=256, help="test images a run (a "
                        "seeded sample)")
    args = parser.parse_args()
    for name in args.sets:
        csv = os.path.join(args.work, name, "data.csv")
        rows = []
        for seed in args.seeds:
            run = os.path.join(args.work, f"{name}-agnet-{seed}")
            with open(os.path.join(run, "config.yaml")) as handle:
                settings = yaml.safe_load(handle)
            paths, images, labels = test_images(csv, settings["image_size"], args.images)
            if seed == args.seeds[0]:
                counts, grid, area = region_quality(paths, settings["image_size"],
                                                    settings["num_primary"])
                print(f"{name}: SIFT keypoints per test image median {np.median(counts):.0f} "
                      f"(10-90 %: {np.percentile(counts, 10):.0f}-"
                      f"{np.percentile(counts, 90):.0f}), grid regions on {grid:.1%} of the "
                      f"images, mean primary box area {area:.2f} of the image", flush=True)
            rows.append(probe_run(run, os.path.join(args.work, f"{name}-agnet-base-{seed}"),
                                  images, labels, paths, settings))
            print(f"  seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in rows[-1].items()),
                  flush=True)
        print(f"  mean: " + ", ".join(f"{k} {np.mean([r[k] for r in rows]):.3f}"
                                      for k in rows[0]), flush=True)


if __name__ == "__main__":
    main()
