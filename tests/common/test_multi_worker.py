"""MultiWorkerMirroredStrategy for real: worker processes on 127.0.0.1 run
the trainers' own commands; their weights equal one process with two
replicas over the same global batches; only the chief writes; a killed
worker's run resumes."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Runs a trainer's command as `python -m` would, and keeps the weights it
# saves as model.keras (a non-chief worker saves into a folder it removes).
DRIVER = """
import os, runpy, sys
import numpy as np
from common.training import runfolder
save_model = runfolder.save_model
def keep(model, path):
    np.savez(os.environ["WEIGHTS_OUT"], *model.get_weights())
    save_model(model, path)
runfolder.save_model = keep
if os.environ.get("SHARE_OUT"):  # records the test rows this worker scored
    from common.training import sharded_predict
    gather, add = sharded_predict.gather_rows, sharded_predict.Shard.sum
    def record(strategy, rows, values, count):
        np.savez(os.environ["SHARE_OUT"], rows=rows, predicted=len(values))
        return gather(strategy, rows, values, count)
    def record_counts(shard, counts):
        np.save(os.environ["SHARE_OUT"] + "-counts.npy", counts)
        return add(shard, counts)
    sharded_predict.gather_rows, sharded_predict.Shard.sum = record, record_counts
sys.argv = sys.argv[1:]
runpy.run_module(sys.argv[0], run_name="__main__")
"""


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def start_workers(module, output, argv, tmp_path, count=2, tag="w"):
    """Starts ``count`` worker processes of ``python -m module``; returns them."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(count)]}
    scratch = tmp_path / "tmp"
    scratch.mkdir(exist_ok=True)
    processes = []
    for index in range(count):
        env = {**os.environ, "PYTHONPATH": ROOT, "TMPDIR": str(scratch),
               "WEIGHTS_OUT": str(tmp_path / f"{tag}{index}.npz"),
               "SHARE_OUT": str(tmp_path / f"{tag}{index}-share.npz"),
               "TF_CONFIG": json.dumps({"cluster": cluster,
                                        "task": {"type": "worker", "index": index}})}
        processes.append(subprocess.Popen(
            [sys.executable, "-c", DRIVER, module, "--strategy", "multi_worker", "--output",
             str(output), "--verbose", "0", *argv], cwd=ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return processes


def finish(processes, timeout=300):
    results = []
    for process in processes:
        out, err = process.communicate(timeout=timeout)
        results.append((process.returncode, out, err))
    return results


def reference_weights(command, argv, mirrored, shards=2):
    """One process, two replicas, fed the same global batches: replica r
    gets shard r's per-worker batch (what worker r reads)."""
    from common.data.pipeline import make_dataset
    from common.training import harness, model_setup
    from common.training.entry import parse, trainer_of
    args = parse(command, argv)
    trainer = trainer_of(command)
    keras.utils.set_random_seed(args.seed)
    data = harness.load_data(args, trainer)
    augments = [trainer.augmentation(args) for _ in range(shards)]  # one per worker
    model = model_setup.compiled_model(trainer, args, data, mirrored)
    parts = [make_dataset(data.train, data.classes, args.image_size, args.batch_size // shards,
                          training=True, augment=augments[i], seed=args.seed, shard=(shards, i))
             for i in range(shards)]

    def interleave(*batches):
        stream = tf.data.Dataset.from_tensors(batches[0])
        for batch in batches[1:]:
            stream = stream.concatenate(tf.data.Dataset.from_tensors(batch))
        return stream

    # As the workers: one repeated stream, steps_per_epoch passes per epoch.
    batches = tf.data.Dataset.zip(tuple(p.repeat() for p in parts)).flat_map(interleave)
    model.fit(mirrored.distribute_datasets_from_function(lambda context: batches),
              epochs=args.epochs, steps_per_epoch=int(parts[0].cardinality()), verbose=0)
    return [np.asarray(w) for w in model.network.get_weights()]


def _weights(path):
    with np.load(path) as saved:
        return [saved[f"arr_{i}"] for i in range(len(saved.files))]


@pytest.mark.parametrize("module, extra", [
    ("common.train", []),
    ("distraction.train", ["--p", "1"]),  # a custom train_step, with augmentation
])
def test_two_workers_equal_one_process_with_two_replicas(tmp_path, mirrored, module, extra,
                                                        small_demo, demo_settings):
    import importlib
    command = importlib.import_module(module).COMMAND
    argv = ["--data", small_demo("digits", 24), "--config", demo_settings(command),
            "--epochs", "2", "--image-size", "16", "--batch-size", "64", *extra]
    run = tmp_path / "run"
    results = finish(start_workers(module, run, argv, tmp_path))
    for code, out, err in results:
        assert code == 0, err[-3000:]
    assert results[1][1] == ""  # the other worker prints no progress
    first, second = _weights(tmp_path / "w0.npz"), _weights(tmp_path / "w1.npz")
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    expected = reference_weights(command, argv + ["--output", str(tmp_path / "ref")], mirrored)
    assert len(expected) == len(first)
    for got, want in zip(first, expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    # One run folder, the chief's; the other worker's temporary folder is gone.
    assert (run / "model.keras").is_file() and (run / "metrics.json").is_file()
    assert pd.read_csv(run / "history.csv")["epoch"].tolist() == [0, 1]
    assert list((tmp_path / "tmp").glob("attention-*")) == []
    if module == "distraction.train":  # the erased test: each worker its rows, gathered
        from common.training.entry import parse, trainer_of
        from common.training.harness import load_data
        from distraction.trainer import erased_metrics
        args = parse(command, argv + ["--output", str(tmp_path / "one")])
        data = load_data(args, trainer_of(command))
        want = erased_metrics(keras.saving.load_model(run / "model.keras"), data.test,
                              data.classes, args.image_size, args.batch_size, seed=args.seed)
        got = json.loads((run / "metrics.json").read_text())["erased"]
        assert got["num_images"] == len(data.test) and {k: got[k] for k in want} == want


def test_two_workers_evaluate_their_shares_and_equal_one_process(tmp_path, small_demo,
                                                                demo_settings):
    """Each worker predicts half the test rows (an odd count: shares of 20
    and 19); the chief's metrics.json and predictions.csv equal one
    process's evaluation of its model.keras on the same test table."""
    from common import data as datalib
    from common.cam_sources import as_probabilities
    from common.train import COMMAND
    from common.training.entry import parse, trainer_of
    from common.training.harness import load_data
    from common.training.metrics import classification_metrics
    source = small_demo("digits", 12)
    table = pd.read_csv(source)
    odd = os.path.join(os.path.dirname(source), "small-12-odd-test.csv")
    table.drop(table.index[table["split"] == "test"][-1]).to_csv(odd, index=False)
    argv = ["--data", odd, "--config", demo_settings(COMMAND), "--epochs", "1",
            "--image-size", "16", "--batch-size", "16"]
    run = tmp_path / "run"
    for code, _, err in finish(start_workers("common.train", run, argv, tmp_path)):
        assert code == 0, err[-3000:]
    shares = [np.load(tmp_path / f"w{i}-share.npz") for i in range(2)]
    assert [s["rows"].tolist() for s in shares] == [list(range(0, 39, 2)), list(range(1, 39, 2))]
    assert [int(s["predicted"]) for s in shares] == [20, 19]
    args = parse(COMMAND, argv + ["--output", str(tmp_path / "one")])
    data = load_data(args, trainer_of(COMMAND))
    network = keras.saving.load_model(run / "model.keras")
    expected = as_probabilities(network.predict(datalib.make_dataset(
        data.test, data.classes, args.image_size, args.batch_size, cache=False), verbose=0),
        network)
    written = pd.read_csv(run / "predictions.csv", dtype={"label": str, "predicted": str})
    assert written["path"].tolist() == data.test["path"].tolist()
    assert written["predicted"].tolist() == [data.classes[i] for i in expected.argmax(-1)]
    # Rows differ by far more than the tolerance: rows out of order would show.
    assert np.abs(expected - expected[::-1]).max() > 1e-4
    np.testing.assert_allclose(written[[f"p_{c}" for c in data.classes]].to_numpy(), expected,
                               rtol=1e-5, atol=1e-7)
    metrics = json.loads((run / "metrics.json").read_text())
    want = classification_metrics(datalib.encode_labels(data.test, data.classes), expected,
                                  data.classes)
    assert metrics["num_images"] == 39 and {k: metrics[k] for k in want} == want


def test_every_other_trainer_takes_a_two_worker_step(tmp_path, small_demo, demo_settings):
    import importlib
    for module, demo, extra in (
            ("fsa.train", "where", ["--image-size", "64", "--fsa-stage1-epochs", "1",
                                    "--fsa-stage2-epochs", "0"]),
            ("agnet.train", "fashion", ["--image-size", "32", "--num-primary", "2"]),
            ("fam.train", "wsol", ["--image-size", "32"])):
        data = small_demo(demo)
        if module == "fsa.train":
            extra = extra + ["--masks", os.path.join(os.path.dirname(data), "masks.npz")]
        settings = demo_settings(importlib.import_module(module).COMMAND)
        run = tmp_path / module
        results = finish(start_workers(module, run, ["--data", data, "--config", settings,
                                                     "--epochs", "1", "--batch-size", "16",
                                                     *extra], tmp_path, tag=module))
        for code, _, err in results:
            assert code == 0, (module, err[-3000:])
        for a, b in zip(_weights(tmp_path / f"{module}0.npz"),
                        _weights(tmp_path / f"{module}1.npz")):
            np.testing.assert_array_equal(a, b)
        assert (run / "model.keras").is_file()
        if module == "fam.train":
            check_fam_localization(run, module, data, settings, tmp_path)


def check_fam_localization(run, module, data, settings, tmp_path):
    """Each worker scored its half of the test rows, the counts were summed,
    and the chief's localisation equals one process's on model.keras."""
    from common.training.entry import parse, trainer_of
    from common.training.harness import load_data
    from fam.localization import evaluate_localization
    from fam.train import COMMAND
    args = parse(COMMAND, ["--data", data, "--config", settings, "--image-size", "32",
                           "--batch-size", "16", "--output", str(tmp_path / "one")])
    loaded = load_data(args, trainer_of(COMMAND))
    table, classes = loaded.test, loaded.classes
    predictions = pd.read_csv(run / "predictions.csv", dtype={"label": str, "predicted": str})
    probabilities = predictions[[f"p_{c}" for c in classes]].to_numpy()
    want, _ = evaluate_localization(keras.saving.load_model(run / "model.keras"), table,
                                    classes, 32, probabilities, kind="fam", batch_size=16)
    got = json.loads((run / "metrics.json").read_text())["localization"]
    assert got == want
    local = [np.load(tmp_path / f"{module}{i}-share.npz-counts.npy") for i in range(2)]
    assert [int(c[3]) for c in local] == [(len(table) + 1) // 2, len(table) // 2]


def test_a_killed_worker_resumes_from_the_last_finished_epoch(tmp_path):
    run = tmp_path / "run"
    argv = ["--epochs", "3", "--image-size", "16", "--batch-size", "32"]
    processes = start_workers("common.train", run, argv, tmp_path)
    meta = run / "backup" / "training_metadata.json"
    deadline = time.time() + 240
    while time.time() < deadline and not meta.is_file():
        time.sleep(0.1)
    assert meta.is_file(), "no epoch finished"
    processes[1].send_signal(signal.SIGKILL)
    code, _, err = finish(processes[:1], timeout=180)[0]
    processes[1].wait()
    assert code == 1
    last = err.strip().splitlines()[-1]
    assert "another worker stopped" in last and "--resume" in last, err[-2000:]
    finished = json.loads(meta.read_text())["epoch"]
    assert 1 <= finished < 3 and not (run / "model.keras").exists()
    results = finish(start_workers("common.train", run, ["--resume"], tmp_path))
    for code, _, err in results:
        assert code == 0, err[-3000:]
    assert pd.read_csv(run / "history.csv")["epoch"].tolist() == [0, 1, 2]
    assert (run / "model.keras").is_file() and (run / "metrics.json").is_file()
    assert len(list((run / "cams").glob("epoch_*.png"))) == 3
    assert list((tmp_path / "tmp").glob("attention-*")) == []
