"""FAM losses against NumPy, the model's maps and losses, trainer end to end."""

import json

import keras
import numpy as np
import pytest

from common.backbones import build_backbone
from common.training.entry import main
from fam.losses import diversity_loss, sparsity_loss
from fam.model import FamModel, build_fam, maps_model
from fam.train import COMMAND
from fam.trainer import FamTrainer


def test_sparsity_and_diversity_match_numpy():
    rng = np.random.default_rng(0)
    m = rng.uniform(0, 1, (3, 4, 5, 1)).astype("float32")
    assert float(sparsity_loss(m)) == pytest.approx(np.abs(m).mean(), rel=1e-6)
    p = rng.normal(size=(3, 4, 6)).astype("float32")
    unit = p / np.linalg.norm(p, axis=-1, keepdims=True)
    expected = np.mean([np.mean([unit[b, k] @ unit[b, l] for k in range(4)
                                 for l in range(k + 1, 4)]) for b in range(3)])
    assert float(diversity_loss(p)) == pytest.approx(expected, rel=1e-5)
    same = np.repeat(p[:, :1], 4, axis=1)
    assert float(diversity_loss(same)) == pytest.approx(1.0, rel=1e-6)


def test_train_step_adds_both_losses_from_the_maps():
    model = build_fam(build_backbone("tiny", (32, 32, 3)), 3, lambda_spa=0.5, lambda_div=0.2)
    model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
    x = np.random.rand(4, 32, 32, 3).astype("float32")
    y = np.array([0, 1, 2, 0])
    logs = model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    net = model.network
    maps = maps_model(net)(x)
    assert maps["foreground"].shape == (4, 8, 8, 1) and maps["parts"].shape == (4, 8, 8, 5)
    part_features = keras.Model(net.input, net.get_layer("part_features").output)(x)
    assert logs["spa_loss"] == pytest.approx(0.5 * float(np.abs(maps["foreground"]).mean()),
                                             rel=1e-5)
    assert logs["div_loss"] == pytest.approx(0.2 * float(diversity_loss(part_features)),
                                             rel=1e-5)
    ce = keras.losses.sparse_categorical_crossentropy(y, net(x)).numpy().mean()
    assert logs["loss"] == pytest.approx(ce + logs["spa_loss"] + logs["div_loss"], rel=1e-5)
    clone = FamModel.from_config(model.get_config())
    assert (clone.lambda_spa, clone.lambda_div) == (0.5, 0.2)


def test_ablations_and_reload(tmp_path, run_python):
    model = build_fam(build_backbone("tiny", (32, 32, 3)), 3, memory=False, importance=False)
    assert isinstance(model.network.get_layer("foreground"), keras.layers.Conv2D)
    model.network.save(tmp_path / "fam.keras")
    x = np.random.rand(2, 32, 32, 3).astype("float32")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "p.npy", model.network.predict(x, verbose=0))
    run_python(f"""
import numpy as np
from common.saving import load_model
from fam.model import maps_model
m = load_model(r"{tmp_path / 'fam.keras'}")
x = np.load(r"{tmp_path / 'x.npy'}")
np.testing.assert_array_equal(m.predict(x, verbose=0), np.load(r"{tmp_path / 'p.npy'}"))
assert maps_model(m)(x)["foreground"].shape == (2, 8, 8, 1)
""")


def test_trainer_writes_localization_metrics(tmp_path):
    run = tmp_path / "run"
    main(COMMAND, ["--output", str(run), "--epochs", "1", "--image-size", "32",
                   "--batch-size", "64", "--verbose", "0", "--at-chance", "warn"])
    loc = json.loads((run / "metrics.json").read_text())["localization"]
    assert {"gt_known_loc_pct", "top1_loc_pct", "top1_cls_pct", "max_box_acc_v2_pct"} <= set(loc)
    assert 0 <= loc["top1_loc_pct"] <= loc["gt_known_loc_pct"] <= 100
    assert "spa_loss" in (run / "history.csv").read_text().splitlines()[0]


def test_class_balanced_weights_are_inverse_frequencies():
    from types import SimpleNamespace

    import pandas as pd
    train = pd.DataFrame({"labels": [("a",)] * 6 + [("b",)] * 2})
    data = SimpleNamespace(train=train, classes=["a", "b"])
    weights = FamTrainer(COMMAND).class_weight(SimpleNamespace(class_balanced=True), data)
    assert weights == pytest.approx({0: 8 / (2 * 6), 1: 8 / (2 * 2)})
    assert FamTrainer(COMMAND).class_weight(SimpleNamespace(class_balanced=False), data) is None


def test_class_weights_reach_the_custom_train_step():
    import tensorflow as tf
    model = build_fam(build_backbone("tiny", (16, 16, 3)), 2, lambda_spa=0.0, lambda_div=0.0)
    model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
    x = np.random.rand(4, 16, 16, 3).astype("float32")
    y = np.array([0, 0, 1, 1])
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    plain = model.fit(data, epochs=1, verbose=0).history["loss"][0]
    weighted = model.fit(data, epochs=1, verbose=0, class_weight={0: 3.0, 1: 1.0})
    ce = keras.losses.sparse_categorical_crossentropy(y, model.network(x, training=True)).numpy()
    assert plain == pytest.approx(ce.mean(), rel=1e-4)
    assert weighted.history["loss"][0] == pytest.approx((ce * [3, 3, 1, 1]).mean(), rel=1e-4)


def test_cam_map_source_of_a_fam_network_is_its_part_weighted_maps():
    """attention-evaluate's ``cam`` on a FAM network: sum_k t_k A_k (W_n . X) + b_n,
    in NumPy from the layers' outputs; its spatial mean is logit n."""
    from common.cam import normalize_maps
    from common.cam_methods import ClassActivationMap
    keras.utils.set_random_seed(0)
    net = build_fam(build_backbone("tiny", (32, 32, 3)), 3).network
    x = np.random.default_rng(0).random((2, 32, 32, 3)).astype("float32")
    names = ("foreground", "parts", "part_features", "classifier")
    taps = keras.Model(net.input, [net.get_layer("foreground").input]
                       + [net.get_layer(n).output for n in names[1:3]])
    features, parts, part_features = (np.asarray(t) for t in taps(x))
    score = net.get_layer("part_importance").score
    s = np.asarray(score(part_features))[..., 0]
    t = np.exp(s - s.max(1, keepdims=True))
    t /= t.sum(1, keepdims=True)
    kernel, bias = (np.asarray(w) for w in net.get_layer("classifier").weights)
    cams = (np.einsum("bhwk,bk->bhw", parts, t)[..., None]
            * np.einsum("bhwc,cn->bhwn", features, kernel) + bias)
    probabilities = np.asarray(net(x))
    logits, log_p = cams.mean((1, 2)), np.log(probabilities)  # equal up to a constant
    np.testing.assert_allclose(logits - logits.mean(1, keepdims=True),
                               log_p - log_p.mean(1, keepdims=True), atol=1e-4)
    chosen = cams[np.arange(2), ..., probabilities.argmax(1)]
    expected = normalize_maps(tf_resize(chosen, (32, 32)))
    np.testing.assert_allclose(ClassActivationMap(net)(x).numpy(), expected, atol=1e-5)


def tf_resize(maps, size):
    import tensorflow as tf
    return tf.image.resize(maps[..., None], size, method="bilinear")[..., 0].numpy()
