"""The shortcut benchmarks' tasks are what their tables claim: in training
the corner patch's colour (the decoy swatch's grey level) names the class,
on the conflict images it names another; ``ignore`` is exactly the patch,
``attend`` the object without it, the boxes hold the object; and a
mistyped method is one line with exit status 2."""

import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench import corner_patch, shortcuts  # noqa: E402
from bench.shortcut_runs import boxes_around  # noqa: E402


def _patch_colours(images, ignore):
    return np.array([image[mask > 0].mean(axis=0) for image, mask in zip(images, ignore)])


def test_the_corner_patch_names_the_class_in_training_and_another_in_conflict():
    task = corner_patch.load(200, 100)
    assert np.all(task["ignore"].sum(axis=(1, 2)) == corner_patch.PATCH ** 2)
    colours = _patch_colours(task["train"], task["ignore"])
    np.testing.assert_allclose(colours, corner_patch.COLOURS[task["labels"]], atol=1e-6)
    conflict = _patch_colours(task["conflict"], task["test_ignore"])
    names = np.abs(conflict[:, None] - corner_patch.COLOURS[None]).sum(-1).argmin(-1)
    assert np.all(names != task["test_labels"])
    assert set(names) == set(range(4))
    # the ceiling's images hold no colour: grey everywhere
    for images in (task["clean_train"], task["clean_test"]):
        assert np.abs(images - images.mean(axis=-1, keepdims=True)).max() < 1e-6
    assert np.all(task["attend"] * task["ignore"] == 0) and np.all(task["attend"].sum((1, 2)))
    # the shape pixels of the conflict and clean test images are the same
    shape = task["conflict"][..., 0] != task["clean_test"][..., 0]
    assert np.all(shape <= (task["test_ignore"] > 0))


def test_decoy_swatches_follow_ross_et_al():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 200, (50, 28, 28)).astype(np.uint8)
    labels = np.arange(50) % 10
    decoyed, ignore, _ = shortcuts.decoy(images, labels, rng)
    levels = np.array([d[m > 0] for d, m in zip(decoyed, ignore)])  # (50, 16)
    assert np.all(levels == (255 - 25 * labels)[:, None])
    decoyed, ignore, _ = shortcuts.decoy(images, labels, rng, test=True)
    levels = np.array([d[m > 0][0] for d, m in zip(decoyed, ignore)])
    assert np.all(levels != 255 - 25 * labels)


def test_boxes_hold_the_object():
    attend = np.zeros((2, 10, 20), np.float32)
    attend[0, 2:5, 4:9] = 1.0
    boxes = boxes_around(attend)
    np.testing.assert_allclose(boxes[0, 0], [0.2, 0.2, 0.5, 0.45])
    assert np.all(boxes[1] == 0)  # no object: padding


def test_a_mistyped_method_is_one_line():
    done = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "corner_patch.py"),
                           "--methods", "plain,rrrr"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and "--methods: unknown ['rrrr']" in done.stderr.splitlines()[-1]
