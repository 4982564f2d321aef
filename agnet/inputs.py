"""AG-Net's regions for the commands that explain and evaluate any
classifier: ``attention-explain`` and ``attention-evaluate`` find
``RegionInputs`` through this package's entry point in the group
``attention_guided.model_inputs`` (``common.model_inputs``), so they feed
an AG-Net model as its trainer and ``agnet-predict`` do.

Nothing heavy is imported at the top: the class is looked up before
TensorFlow loads.
"""

REGION_MAP = ("the region importance weights w of eq. 3, each added over its box (the whole "
              "image's everywhere): where the model's fused features come from, the same map "
              "for every class")


def region_count(model):
    """R, the regions an AG-Net model takes (its ``regions`` input)."""
    return model.input["regions"].shape[1]


def primary_count(count):
    """The k with k + k(k-1)/2 = ``count`` regions; ValueError if none."""
    from agnet.regions import num_regions
    found = [k for k in range(1, 64) if num_regions(k) == count]
    if not found:
        raise ValueError(f"an AG-Net model takes k + k(k-1)/2 regions; this one takes {count}")
    return found[0]


def image_branch(model):
    """The layer whose feature map the regions pool (``self_attention``, or
    the backbone without it): where Grad-CAM reads an AG-Net model."""
    from common.keras_compat import producing_layer
    return producing_layer(model.get_layer("region_pooling").input[0])


def region_weights(model, inputs):
    """(B, R + 1) region importance weights w of eq. 3 (last: whole image)."""
    return RegionWeights(model)(inputs)


class RegionWeights:
    """``(inputs) -> (B, R + 1)`` region importance weights w of eq. 3 (last:
    the whole image) of an AG-Net model, in inference mode."""

    def __init__(self, model):
        import keras
        self.layer = model.get_layer("region_importance")
        self.alpha = keras.Model(model.inputs, self.layer.input)

    def __call__(self, inputs):
        from keras import ops
        return ops.cast(self.layer.region_weights(self.alpha(inputs, training=False))[..., 0],
                        "float32")


def paint_regions(weights, boxes, size):
    """(B, H, W) maps: each region's weight added over the pixels of its box
    (normalised ``[y1, x1, y2, x2]``; pixel i at i / (H - 1), as the boxes
    are drawn and pooled), plus the whole image's weight (the last)."""
    import tensorflow as tf
    height, width = size
    boxes = tf.cast(boxes, tf.float32)
    low, high = tf.minimum(boxes[..., :2], boxes[..., 2:]), tf.maximum(boxes[..., :2],
                                                                      boxes[..., 2:])
    ys = tf.linspace(0.0, 1.0, height)[None, None, :]  # (1, 1, H)
    xs = tf.linspace(0.0, 1.0, width)[None, None, :]
    rows = tf.cast((ys >= low[..., :1]) & (ys <= high[..., :1]), tf.float32)  # (B, R, H)
    cols = tf.cast((xs >= low[..., 1:2]) & (xs <= high[..., 1:2]), tf.float32)  # (B, R, W)
    count = tf.shape(boxes)[1]
    maps = tf.einsum("br,brh,brw->bhw", weights[:, :count], rows, cols)
    return maps + weights[:, count:][:, :, None]


class RegionInputs:
    """The input maker of AG-Net models (``common.model_inputs``): regions
    from each image file by SIFT + GMM, as the trainer computed them
    (``agnet.cache.compute_regions``: the same cache, k and seed from the
    run's config.yaml), Grad-CAM on the image branch and the region weights
    as a map source of their own (``regions``)."""

    inputs = ("image", "regions")
    image = "image"
    # Not Score-CAM (it masks a single-input model's image) nor CAM (the
    # head pools GAP and GMP: its logits do not decompose into class maps).
    image_maps = ("gradcam", "gradcampp", "layercam", "xgradcam")
    maps = {"regions": REGION_MAP}

    def __init__(self, model, settings):
        self.model = model
        self.size = model.input["image"].shape[1]
        count = region_count(model)
        self.num_primary = int(settings.get("num_primary") or primary_count(count))
        if primary_count(count) != self.num_primary:
            raise ValueError(f"the run's config.yaml says num_primary {self.num_primary}, but "
                             f"the model takes {count} regions")
        self.seed = int(settings.get("seed") or 0)
        self.cache = settings.get("region_cache")
        self.feature_layer = image_branch(model).name

    def file_inputs(self, paths, verbose=1):
        from agnet.cache import compute_regions
        return {"regions": compute_regions(paths, self.size, self.num_primary, self.seed,
                                           self.cache, verbose=verbose)}

    def map_source(self, name):
        from common.cam import normalize_maps
        weights, size = RegionWeights(self.model), tuple(self.model.input["image"].shape[1:3])

        def regions(inputs, class_index=None):
            return normalize_maps(paint_regions(weights(inputs), inputs["regions"], size))
        return regions
