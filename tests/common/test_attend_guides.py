"""The guides that read ``attend``: FSA on each image's mask against NumPy;
FSA, BoxEnergy and HINT on ``attend`` together in one fit() equal each alone,
under MirroredStrategy (an uneven batch) and mixed precision."""

import keras
import numpy as np
import pytest

import common
import fsa
from common.backbones import build_backbone
from common.classifier import build_cam_classifier
from fsa.network import build_cam_network

S, C = 16, 3


def _batch(batch=5):
    rng = np.random.default_rng(7)
    x = rng.random((batch, S, S, 3)).astype("float32")
    attend = np.zeros((batch, S, S), "float32")
    attend[:, 4:12, 2:10] = 1.0
    attend[1] = 0.0  # no mask: adds nothing
    attend[2, :, :] = rng.random((S, S)) > 0.5
    return x, attend, np.arange(batch) % C


def _guides():
    return [fsa.ForcedSpatialAttention(attend=True, weight=1.0, reg=0.1),
            common.BoxEnergy(1.0, region="attend"), common.Hint(0.5)]


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_fsa_on_attend_masks_equals_numpy():
    network = build_cam_network(build_backbone("tiny", (S, S, 3)), C, dropout=0.0)
    guide = fsa.ForcedSpatialAttention(attend=True, weight=2.0, reg=0.1)
    model = common.GuidedClassifier(network, guides=[guide])
    x, attend, y = _batch()
    step = model.step({"image": x, "attend": attend}, y, training=True)
    logits = step.maps.numpy().astype(np.float64)  # (B, h, w, C)
    h, w = logits.shape[1:3]
    per_image = []
    for b, label in enumerate(y):  # area average onto the grid, peak rescaled to 1
        target = attend[b].reshape(h, S // h, w, S // w).mean(axis=(1, 3))
        if target.max() == 0:
            per_image.append(0.0)
            continue
        target = target / target.max()
        z = logits[b, :, :, label]
        fit = np.mean(np.maximum(z, 0) - z * target + np.log1p(np.exp(-np.abs(z))))
        overlap = (_sigmoid(logits[b]) * target[..., None]).mean(axis=(0, 1))
        per_image.append(fit + 0.1 * (overlap.sum() - overlap[label]))
    assert float(guide.terms(step)["fsa_loss"]) == pytest.approx(2.0 * np.mean(per_image),
                                                                  rel=1e-5)
    restored = fsa.ForcedSpatialAttention.from_config(guide.get_config())
    assert restored.attend and restored.get_config()["masks"] is None


def _alone(network, guide, x, attend, y):
    model = common.GuidedClassifier(network, guides=[guide])
    (name, value), = guide.terms(model.step({"image": x, "attend": attend}, y,
                                            training=True)).items()
    return name, (float(value[0]) / float(value[1]) if isinstance(value, tuple)
                  else float(value))


def _fit(network, x, attend, y):
    model = common.GuidedClassifier(network, guides=_guides())
    model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
    logs = model.fit({"image": x, "attend": attend}, y, batch_size=len(x), epochs=1,
                     verbose=0, shuffle=False).history
    return {k: v[0] for k, v in logs.items()}, model


def test_attend_guides_under_mirrored_strategy(mirrored):
    x, attend, y = _batch(5)  # 3 + 2 images on two replicas
    with mirrored.scope():
        network = build_cam_classifier(build_backbone("tiny", (S, S, 3)), C)
        logs, _ = _fit(network, x, attend, y)
    for guide in _guides():
        name, alone = _alone(network, guide, x, attend, y)
        assert logs[name] == pytest.approx(alone, rel=1e-4, abs=1e-6), name


def test_attend_guides_with_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        network = build_cam_classifier(build_backbone("tiny", (S, S, 3)), C)
        x, attend, y = _batch(6)
        logs, model = _fit(network, x, attend, y)
        assert model.optimizer.__class__.__name__ == "LossScaleOptimizer"
        for guide in _guides():
            name, alone = _alone(network, guide, x, attend, y)
            assert np.isfinite(logs[name]) and logs[name] != 0, name
            assert logs[name] == pytest.approx(alone, rel=1e-2, abs=1e-4), name
    finally:
        keras.mixed_precision.set_global_policy("float32")
