"""AG-Net stages against NumPy, and the whole model trained, saved, reloaded."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from agnet.layers import InterRegionAttention, RegionImportance, RegionPooling, \
    RegionSEResidual
from agnet.model import build_agnet
from common.backbones import build_backbone
from common.layers import SEResidual


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_region_pooling_is_bilinear_crop_and_resize_plus_whole_image():
    features = np.arange(2 * 4 * 4 * 1, dtype="float32").reshape(2, 4, 4, 1)
    boxes = np.array([[[0, 0, 1 / 3, 1 / 3]], [[1 / 3, 1 / 3, 1, 1]]], "float32")
    out = RegionPooling(2)(features, boxes).numpy()
    assert out.shape == (2, 2, 2, 2, 1)
    # box [0, 0, 1/3, 1/3] of a 4x4 map samples rows/cols 0 and 1 exactly.
    np.testing.assert_allclose(out[0, 0, ..., 0], features[0, :2, :2, 0])
    np.testing.assert_allclose(out[1, 0, ..., 0], features[1, 1::2, 1::2, 0])
    np.testing.assert_allclose(out[0, 1, ..., 0], features[0, ::3, ::3, 0])  # whole map


def test_each_region_has_its_own_se_residual_block():
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 4, 8)).astype("float32")
    layer = RegionSEResidual(reduction=4)
    out = layer(x).numpy()
    assert layer.w1.shape == (3, 8, 2)
    for r in range(3):
        single = SEResidual(reduction=4)
        single(x[:, r])
        single.squeeze.set_weights([layer.w1.numpy()[r], layer.b1.numpy()[r]])
        single.excite.set_weights([layer.w2.numpy()[r], layer.b2.numpy()[r]])
        np.testing.assert_allclose(out[:, r], single(x[:, r]).numpy(), rtol=1e-5, atol=1e-5)


def _inter_attention_reference(layer, f, normalize):
    """Eq. 2 by loops: sigmoid scores m_rr', row-softmaxed or not, times f_r'."""
    w_u, w_u2, b_u, w_m, b_m = (np.asarray(v.numpy(), "float64") for v in (
        layer.w_u, layer.w_u2, layer.b_u, layer.w_m, layer.b_m))
    f = np.asarray(f, "float64")
    batch, regions, _ = f.shape
    expected = np.zeros_like(f)
    for b in range(batch):
        for r in range(regions):
            m = np.array([_sigmoid(np.tanh(f[b, r] @ w_u + f[b, s] @ w_u2 + b_u) @ w_m + b_m)[0]
                          for s in range(regions)])
            if normalize == "softmax":
                m = np.exp(m) / np.exp(m).sum()
            for s in range(regions):
                expected[b, r] += m[s] * f[b, s]
    return expected


@pytest.mark.parametrize("normalize", ["softmax", "sum"])
def test_inter_region_attention_matches_eq2(normalize):
    f = np.random.default_rng(1).normal(size=(2, 5, 6)).astype("float32")
    layer = InterRegionAttention(units=4, normalize=normalize)
    out = layer(f).numpy()
    np.testing.assert_allclose(out, _inter_attention_reference(layer, f, normalize),
                               rtol=1e-4, atol=1e-5)


def test_inter_region_attention_softmax_is_a_weighted_mean():
    """Equal region features stay themselves under the default (a mean); the
    sum multiplies them by about R * mean(m)."""
    f = np.ones((1, 37, 3), "float32")
    np.testing.assert_allclose(InterRegionAttention(4)(f).numpy(), f, rtol=1e-5)
    assert InterRegionAttention(4, normalize="sum")(f).numpy().mean() > 10


def test_inter_region_attention_in_float16():
    f = np.random.default_rng(3).normal(size=(2, 5, 6)).astype("float32")
    layer = InterRegionAttention(units=4, dtype="mixed_float16")
    out = layer(f)
    assert out.dtype == "float16"
    np.testing.assert_allclose(out.numpy().astype("float32"),
                               _inter_attention_reference(layer, f, "softmax"),
                               rtol=2e-2, atol=2e-2)


def test_inter_region_attention_config_and_older_saves():
    layer = InterRegionAttention(units=4, normalize="sum")
    assert InterRegionAttention.from_config(layer.get_config()).normalize == "sum"
    assert InterRegionAttention.from_config(
        InterRegionAttention(units=4).get_config()).normalize == "softmax"
    # A model saved before the option existed summed: it reloads summing.
    old = {k: v for k, v in InterRegionAttention(units=4).get_config().items()
           if k != "normalize"}
    assert InterRegionAttention.from_config(old).normalize == "sum"
    with pytest.raises(ValueError, match="normalize"):
        InterRegionAttention(normalize="mean")


def test_region_importance_matches_eq3():
    alpha = np.random.default_rng(2).normal(size=(3, 4, 5)).astype("float32")
    layer = RegionImportance()
    out = layer(alpha).numpy()
    kernel, bias = (v.numpy() for v in layer.score.weights)
    scores = (alpha @ kernel + bias)[..., 0]
    w = np.exp(scores - scores.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    np.testing.assert_allclose(out, (w[..., None] * alpha).sum(1), rtol=1e-5, atol=1e-6)


def _inputs(n=8, size=32):
    rng = np.random.default_rng(0)
    regions = np.sort(rng.uniform(0, 1, (n, 10, 2, 2)), axis=2)  # y1<y2, x1<x2
    regions = regions.transpose(0, 1, 3, 2).reshape(n, 10, 4)[..., [0, 2, 1, 3]]
    return {"image": rng.uniform(0, 1, (n, size, size, 3)).astype("float32"),
            "regions": regions.astype("float32")}


def test_agnet_trains_saves_and_reloads_identically(tmp_path, run_python):
    model = build_agnet(build_backbone("tiny", (32, 32, 3)), 3, num_primary=4)
    assert model.get_layer("region_se").w1.shape[0] == 11  # 10 regions + the image
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    x, y = _inputs(), np.arange(8) % 3
    before = model.get_layer("classifier").get_weights()[0].copy()
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert not np.allclose(before, model.get_layer("classifier").get_weights()[0])
    np.savez(tmp_path / "x.npz", **x)
    np.save(tmp_path / "p.npy", model.predict(x, verbose=0))
    model.save(tmp_path / "agnet.keras")
    run_python(f"""
import numpy as np
from common.saving import load_model
m = load_model(r"{tmp_path / 'agnet.keras'}")
x = dict(np.load(r"{tmp_path / 'x.npz'}"))
np.testing.assert_array_equal(m.predict(x, verbose=0), np.load(r"{tmp_path / 'p.npy'}"))
""")


def _random_classifier_and_inputs(model, seed):
    """The model's classifier given random weights (a zero one predicts
    uniformly whatever comes in) and three inputs with 3 regions each."""
    rng = np.random.default_rng(seed)
    classifier = model.get_layer("classifier")
    classifier.set_weights([rng.normal(size=w.shape).astype("float32")
                            for w in classifier.get_weights()])
    x = _inputs(n=3)
    x["regions"] = x["regions"][:, :3]
    return classifier, x


def test_ablated_model_matches_numpy():
    """Without self-attention and inter-region attention, with GAP: backbone
    -> region pooling -> per-region SE -> eq. 3 -> GAP -> Dense softmax,
    recomputed in NumPy from the layers' weights."""
    backbone = build_backbone("tiny", (32, 32, 3))
    plain = build_agnet(backbone, 3, num_primary=2, self_attention=False,
                        inter_attention=False, pooling="gap")
    names = {layer.name for layer in plain.layers}
    assert not {"self_attention", "inter_attention", "gap_gmp"} & names
    classifier, x = _random_classifier_and_inputs(plain, 4)
    features = backbone(x["image"]).numpy()  # (B, 8, 8, C)
    boxes = np.concatenate([x["regions"], np.tile([[[0, 0, 1, 1]]], (3, 1, 1))], 1)
    pooled = tf.image.crop_and_resize(features, boxes.reshape(-1, 4).astype("float32"),
                                      np.repeat(np.arange(3), 4), (7, 7)).numpy()
    pooled = pooled.reshape(3, 4, 7, 7, -1)
    se = plain.get_layer("region_se")
    w1, b1, w2, b2 = (v.numpy() for v in (se.w1, se.b1, se.w2, se.b2))
    squeezed = np.maximum(np.einsum("brc,rch->brh", pooled.mean(axis=(2, 3)), w1) + b1, 0)
    scale = _sigmoid(np.einsum("brh,rhc->brc", squeezed, w2) + b2)
    regions = (pooled + pooled * scale[:, :, None, None, :]).reshape(3, 4, -1)
    kernel, bias = (v.numpy() for v in plain.get_layer("region_importance").score.weights)
    scores = (regions @ kernel + bias)[..., 0]
    weights = np.exp(scores - scores.max(1, keepdims=True))
    weights /= weights.sum(1, keepdims=True)
    fused = (weights[..., None] * regions).sum(1).reshape(3, 7, 7, -1).mean(axis=(1, 2))
    logits = fused @ classifier.kernel.numpy() + classifier.bias.numpy()
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(plain(x).numpy(), expected, rtol=1e-4, atol=1e-5)
    assert np.ptp(expected) > 0.05  # not the uniform output of a zero classifier


def test_without_regions_or_se_blocks_the_model_reads_the_whole_image_alone():
    """The two other ablations of Table VII: ``regions=False`` pools the
    whole image only (the boxes are taken and ignored: other boxes, same
    output), ``se_blocks=False`` passes it on unchanged; with one region the
    inter-attention's row softmax and eq. 3's weights are 1, so the output is
    GAP/GMP of the pooled whole map, recomputed here in NumPy."""
    backbone = build_backbone("tiny", (32, 32, 3))
    model = build_agnet(backbone, 3, num_primary=2, regions=False, se_blocks=False)
    assert "region_se" not in {layer.name for layer in model.layers}
    classifier, x = _random_classifier_and_inputs(model, 5)
    rng = np.random.default_rng(5)
    moved = {**x, "regions": rng.uniform(0, 1, x["regions"].shape).astype("float32")}
    features = model.get_layer("self_attention")(backbone(x["image"])).numpy()
    whole = tf.image.crop_and_resize(features, np.tile([[0, 0, 1, 1]], (3, 1)).astype("float32"),
                                     np.arange(3), (7, 7)).numpy()
    kernel, bias = (v.numpy() for v in model.get_layer("gap_gmp").score.weights)
    gap, gmp = whole.mean(axis=(1, 2)), whole.max(axis=(1, 2))
    scores = np.concatenate([gmp @ kernel + bias, gap @ kernel + bias], axis=1)
    w = np.exp(scores - scores.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    pooled = w[:, :1] * gmp + w[:, 1:] * gap  # eq. 4
    assert not np.allclose(gap, gmp)
    logits = pooled @ classifier.kernel.numpy() + classifier.bias.numpy()
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(model(x).numpy(), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model(moved).numpy(), expected, rtol=1e-4, atol=1e-5)
    assert np.ptp(expected) > 0.05
    config = model.get_layer("region_pooling").get_config()
    assert config["use_boxes"] is False
    assert RegionPooling.from_config({k: v for k, v in config.items()
                                      if k != "use_boxes"}).use_boxes  # older saves


def test_the_command_offers_the_model_poolings():
    from agnet import layers, model, train
    assert train.POOLINGS == model.POOLINGS
    assert train.INTER_ATTENTION == layers.NORMALIZATIONS


def test_region_pooling_equals_crop_and_resize_and_its_gradient():
    """Boxes inside, partly outside and flipped: the same values and the
    same gradient with respect to the features as tf.image.crop_and_resize."""
    rng = np.random.default_rng(7)
    features = tf.constant(rng.normal(size=(2, 9, 11, 5)).astype("float32"))
    boxes = np.array([[[0.1, 0.2, 0.7, 0.9], [-0.3, 0.5, 0.4, 1.6], [0.8, 0.7, 0.2, 0.1]],
                      [[0.0, 0.0, 1.0, 1.0], [0.45, 0.45, 0.46, 0.46], [1.2, -0.5, 1.5, 0.2]]],
                     "float32")
    weights = tf.constant(rng.normal(size=(2, 4, 7, 7, 5)).astype("float32"))
    layer = RegionPooling(7)

    def reference(f):
        full = np.concatenate([boxes, np.tile([[[0, 0, 1, 1]]], (2, 1, 1))], 1)
        out = tf.image.crop_and_resize(f, full.reshape(-1, 4), np.repeat([0, 1], 4), (7, 7))
        return tf.reshape(out, (2, 4, 7, 7, 5))

    for pool in (layer, reference):
        with tf.GradientTape() as tape:
            tape.watch(features)
            out = pool(features, boxes) if pool is layer else pool(features)
            loss = tf.reduce_sum(out * weights)
        if pool is layer:
            got, got_grad = out.numpy(), tape.gradient(loss, features).numpy()
        else:
            want, want_grad = out.numpy(), tape.gradient(loss, features).numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(got_grad, want_grad, atol=1e-5)
    single = RegionPooling(1)(features, boxes).numpy()
    full = np.concatenate([boxes, np.tile([[[0, 0, 1, 1]]], (2, 1, 1))], 1)
    np.testing.assert_allclose(single.reshape(-1, 5), tf.image.crop_and_resize(
        features, full.reshape(-1, 4), np.repeat([0, 1], 4), (1, 1)).numpy().reshape(-1, 5),
        atol=1e-5)


def test_agnet_converts_to_litert_with_builtin_ops_only(tmp_path):
    """No CropAndResize left: the SavedModel converts without the Flex
    delegate and LiteRT predicts what Keras predicts."""
    from common.export import export_saved_model, export_tflite, tflite_predict
    model = build_agnet(build_backbone("tiny", (32, 32, 3)), 3, num_primary=4)
    classifier = model.get_layer("classifier")
    classifier.set_weights([np.random.default_rng(1).normal(size=w.shape).astype("float32")
                            for w in classifier.get_weights()])
    x = _inputs(n=3)
    saved = export_saved_model(model, str(tmp_path / "saved"))
    lite = export_tflite(saved, tmp_path / "agnet.tflite", builtin_only=True)
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(tflite_predict(lite, x), expected, rtol=1e-4, atol=1e-5)
    assert np.ptp(expected) > 0.05
