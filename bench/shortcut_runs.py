"""What the shortcut benchmarks share (bench/shortcuts.py: Decoy-FashionMNIST;
bench/corner_patch.py: a corner patch whose colour names the class): every
guide of the toolkit with the annotation it takes, one training run and its
measures, and the Markdown table.

A task gives, as NumPy arrays: training images with the shortcut, the same
images without it (the ceiling's), their labels and annotations (``ignore``:
the shortcut; ``attend``: the object; ``boxes``: the object's box), and test
images whose shortcut names another class ("conflict"), with their
``ignore`` masks and labels, and the clean test images."""

import time

import numpy as np

# method -> (guide builder taking an optional weight, what it reads)
METHODS = ("plain", "ceiling", "rrr", "gradcam", "counterexamples", "hint", "fsa",
           "box_energy", "box_energy_relu", "occlusion", "hnc")


def guides(method):
    """The guides of ``method`` ("rrr=10": another weight)."""
    import common
    name, _, weight = method.partition("=")
    weight = float(weight) if weight else None
    builders = {
        "rrr": lambda: [common.InputGradientPenalty(weight or 1000.0)],  # ignore
        "gradcam": lambda: [common.GradCamPenalty(weight or 1.0)],  # ignore
        "counterexamples": lambda: [common.Counterexamples()],  # ignore
        "hint": lambda: [common.Hint(weight or 1.0)],  # attend
        "fsa": lambda: [_fsa(weight)],  # attend: each image's object mask
        "box_energy": lambda: [common.BoxEnergy(weight or 1.0)],  # the object's box
        "box_energy_relu": lambda: [common.BoxEnergy(weight or 1.0)],  # ReLU's gradient
        "occlusion": lambda: [_occlusion(weight)],  # what Grad-CAM looks at
        "hnc": lambda: [common.HomogeneousNegativeCam(weight or 0.07)],
    }
    return builders.get(name, list)()


def _fsa(weight):
    from fsa.guide import ForcedSpatialAttention
    return ForcedSpatialAttention(attend=True, weight=weight or 1.0, reg=0.05)


def _occlusion(p):
    from distraction.guide import GradCamOcclusion
    return GradCamOcclusion(p=p if p is not None else 0.25)


def build(method, seed, size, classes, lr):
    import keras

    import common
    from common.backbones.tiny import tiny_convnet
    keras.utils.set_random_seed(seed)
    network = common.build_cam_classifier(tiny_convnet((size, size, 3)), classes)
    model = common.GuidedClassifier(network, guides=guides(method))
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def boxes_around(attend):
    """(N, 1, 4) normalised [y1, x1, y2, x2] around each image's object."""
    boxes = np.zeros((len(attend), 1, 4), np.float32)
    height, width = attend.shape[1:3]
    for i, mask in enumerate(attend):
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        if len(rows):
            boxes[i, 0] = (rows[0] / height, cols[0] / width, (rows[-1] + 1) / height,
                           (cols[-1] + 1) / width)
    return boxes


def wrong_reason_share(network, images, ignore, batch=256):
    """The XIL typology's WR with input gradients: mean over images of the
    share of |d sum log p / d x| (summed over channels) inside ``ignore``."""
    import tensorflow as tf
    shares = []
    for start in range(0, len(images), batch):
        x = tf.constant(images[start:start + batch])
        with tf.GradientTape() as tape:
            tape.watch(x)
            summed = tf.reduce_sum(tf.math.log(tf.maximum(network(x), 1e-12)))
        magnitude = tf.reduce_sum(tf.abs(tape.gradient(summed, x)), axis=-1).numpy()
        inside = (magnitude * ignore[start:start + batch]).sum(axis=(1, 2))
        shares.append(inside / np.maximum(magnitude.sum(axis=(1, 2)), 1e-12))
    return float(np.concatenate(shares).mean())


def gradcam_share(network, images, ignore, batch=256):
    """Grad-CAM's (the predicted class's) mass inside ``ignore``, % of all
    its mass over the images: where the maps say the model looks."""
    import common
    from common.reliance import Reliance
    check, gradcam = Reliance(), common.GradCAM(network)
    for start in range(0, len(images), batch):
        part = slice(start, start + batch)
        predicted = network.predict(images[part], verbose=0).argmax(-1)
        check.update_maps("gradcam", gradcam(images[part], class_index=predicted).numpy(),
                          ignore[part])
    return check.result()["map_share_inside_pct"]["gradcam"]


def run(method, seed, task, epochs, batch, lr):
    """Trains ``method`` on ``task`` (a dict, see the module's docstring) and
    returns its measures."""
    import common.box_energy as box_energy
    from common.reliance import reliance
    size, classes = task["train"].shape[1], int(task["labels"].max()) + 1
    model = build(method, seed, size, classes, lr)
    x = task["clean_train"] if method == "ceiling" else task["train"]
    inputs = {"image": x, "ignore": task["ignore"], "attend": task["attend"],
              "boxes": task["boxes"]}
    softness, box_energy.SOFTNESS = box_energy.SOFTNESS, (
        1e-9 if method.startswith("box_energy_relu") else box_energy.SOFTNESS)
    try:
        started = time.perf_counter()
        history = model.fit(inputs, task["labels"], batch_size=batch, epochs=epochs, verbose=0,
                            shuffle=True)
        seconds = (time.perf_counter() - started) / epochs
    finally:
        box_energy.SOFTNESS = softness
    network, y = model.network, task["test_labels"]
    accuracy = lambda images: float(  # noqa: E731
        (network.predict(images, verbose=0).argmax(-1) == y).mean())
    swapped = reliance(network, task["conflict"], task["test_ignore"], y, batch_size=batch * 4)
    return {"clean": accuracy(task["clean_test"]), "conflict": accuracy(task["conflict"]),
            "wr": wrong_reason_share(network, task["conflict"], task["test_ignore"]),
            "changed": swapped["changed_pct"], "seconds": seconds,
            "map": gradcam_share(network, task["conflict"], task["test_ignore"]),
            "loss": float(history.history["loss"][-1])}


def table(results, conflict_name):
    """Markdown rows: one per method, means over seeds and each seed's
    conflict accuracy; time per epoch as the median over plain's."""
    plain = np.median([r["seconds"] for r in results["plain"]]) if "plain" in results else None
    lines = [f"| method | clean test | {conflict_name} (per seed) | {conflict_name} mean | "
             "wrong-reason share | Grad-CAM inside the shortcut | predictions changed by a swap "
             "| time / epoch vs plain |", "|---|---|---|---|---|---|---|---|"]
    for method, rows in results.items():
        mean = lambda key: f"{np.mean([r[key] for r in rows]):.3f}"  # noqa: E731
        per_seed = " / ".join(f"{r['conflict']:.3f}" for r in rows)
        ratio = f"{np.median([r['seconds'] for r in rows]) / plain:.2f}x" if plain else "—"
        lines.append(f"| {method} | {mean('clean')} | {per_seed} | {mean('conflict')} | "
                     f"{mean('wr')} | {np.mean([r['map'] for r in rows]):.1f} % | "
                     f"{np.mean([r['changed'] for r in rows]):.1f} % | {ratio} |")
    return "\n".join(lines)


def run_all(methods, seeds, task, epochs, batch, lr, log):
    """Every method on every seed, alternated per seed (the machine's load
    hits all alike); ``log`` gets one line per run."""
    results = {}
    for seed in seeds:
        for method in methods:
            result = run(method, seed, task, epochs, batch, lr)
            results.setdefault(method, []).append(result)
            log(f"{method} seed {seed}: clean {result['clean']:.3f} conflict "
                f"{result['conflict']:.3f} wrong-reason share {result['wr']:.3f} Grad-CAM inside "
                f"{result['map']:.1f} % swap changes "
                f"{result['changed']:.1f} % ({result['seconds']:.1f} s/epoch)")
    return results


def main(doc, title, conflict_name, load, methods, train, test, epochs, argv=None):
    """A benchmark's command line: ``load(train, test)`` builds the task;
    one line per run on stderr, the table on stdout."""
    import argparse
    import sys
    parser = argparse.ArgumentParser(description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default=methods)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--train", type=int, default=train, help="training images")
    parser.add_argument("--test", type=int, default=test, help="test images")
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam's learning rate")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    chosen = parse_methods(parser, args.methods)
    task = load(args.train, args.test)
    results = run_all(chosen, [int(s) for s in args.seeds.split(",")], task, args.epochs,
                      args.batch_size, args.lr,
                      lambda line: print(line, file=sys.stderr, flush=True))
    print(f"\n{title}, {args.train} training images, {args.test} test images, {args.epochs} "
          f"epochs, Adam {args.lr:g}, batch {args.batch_size}, seeds {args.seeds}\n")
    print(table(results, conflict_name))


def parse_methods(parser, text):
    methods = [m for m in text.split(",") if m]
    unknown = sorted({m.partition("=")[0] for m in methods} - set(METHODS))
    if unknown:
        parser.error(f"--methods: unknown {unknown}; expected some of {list(METHODS)}")
    return methods
