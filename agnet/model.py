"""The Attend and Guide Network (Bera, Wharton, Liu, Bessis, Behera, IEEE TIP
2021) as a Keras functional model."""

import keras

from agnet.layers import InterRegionAttention, RegionImportance, RegionPooling, \
    RegionSEResidual
from agnet.regions import num_regions
from common.layers import GapGmpPooling, SelfAttention2D

POOLINGS = ("gap_gmp", "gap", "gmp")


def build_agnet(backbone, num_classes, num_primary=8, pool_size=7, self_attention=True,
                inter_attention=True, pooling="gap_gmp", inter_normalize="softmax",
                regions=True, se_blocks=True, name="agnet"):
    """AG-Net: inputs ``{"image": (B, H, W, 3), "regions": (B, R, 4)}``
    (R = k + k(k-1)/2 normalised boxes from ``agnet.regions``), class
    probabilities out.

    backbone features -> SelfAttention2D -> the R regions and the whole image
    bilinearly pooled to pool_size x pool_size -> one SE-residual block per
    region -> inter-region attention (eq. 2) -> region importance (eq. 3) ->
    learnable GAP/GMP mix (eq. 4) -> Dense softmax.

    The ablation switches (paper's Table VII) drop the semantic regions (only
    the whole image is pooled: the ``regions`` input is still taken, and
    ignored), the self-attention, the SE-residual blocks, the inter-region
    attention (alpha_r = f_r), or use only GAP or only GMP;
    ``inter_normalize`` is ``InterRegionAttention``'s ``normalize``: the
    authors' row softmax (default) or eq. 2's literal sum.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    image = keras.Input(backbone.input_shape[1:], name="image")
    boxes = keras.Input((num_regions(num_primary), 4), name="regions")
    x = backbone(image)
    if self_attention:
        x = SelfAttention2D(reduction=8, name="self_attention")(x)
    channels = x.shape[-1]
    pooled = RegionPooling(pool_size, use_boxes=regions,
                           name="region_pooling")(x, boxes)  # (B, R+1, P, P, C)
    if se_blocks:
        pooled = RegionSEResidual(name="region_se")(pooled)
    flat = keras.layers.Reshape((-1, pool_size * pool_size * channels), name="flatten")(pooled)
    if inter_attention:
        flat = InterRegionAttention(32, normalize=inter_normalize, name="inter_attention")(flat)
    fused = RegionImportance(name="region_importance")(flat)
    fused = keras.layers.Reshape((pool_size, pool_size, channels), name="fused_map")(fused)
    if pooling == "gap_gmp":
        vector = GapGmpPooling(name="gap_gmp")(fused)
    elif pooling == "gap":
        vector = keras.layers.GlobalAveragePooling2D(name="gap")(fused)
    else:
        vector = keras.layers.GlobalMaxPooling2D(name="gmp")(fused)
    # A zero classifier starts from uniform predictions (cross-entropy ln C)
    # whatever the scale of the fused vector: with the inter-region sum
    # (inter_normalize="sum") it is an order of magnitude larger than one
    # region's and random weights started near 50 on the demo.
    outputs = keras.layers.Dense(num_classes, activation="softmax", dtype="float32",
                                 kernel_initializer="zeros", name="classifier")(vector)
    return keras.Model({"image": image, "regions": boxes}, outputs, name=name)
