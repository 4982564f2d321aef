"""Batch augmentation from Keras layers, configurable per method.

Applied in the tf.data pipeline (not inside the model), so a saved model
holds no augmentation.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="common")
class RandomBrightnessScale(keras.layers.Layer):
    """Multiplies each image by a factor drawn uniformly from [low, high] and
    clips to [0, 1] (ImageDataGenerator's ``brightness_range``; Keras's
    RandomBrightness adds instead of scaling)."""

    def __init__(self, low=0.5, high=1.5, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.low, self.high, self.seed = float(low), float(high), seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
        if not training:
            return images
        shape = (ops.shape(images)[0], 1, 1, 1)
        factor = keras.random.uniform(shape, self.low, self.high, seed=self.generator,
                                      dtype=images.dtype)
        return ops.clip(images * factor, 0.0, 1.0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "low": self.low, "high": self.high, "seed": self.seed}


class ResizeAndRandomCrop(keras.layers.Layer):
    """Training: resizes to ``from_size`` and takes a random ``size`` x
    ``size`` window of each image (its own offset, the papers' "resize to
    256, random crop 224"); inference: the input unchanged. (Keras's
    RandomCrop draws one offset per batch.)"""

    def __init__(self, from_size, size, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.from_size, self.size, self.seed = int(from_size), int(size), seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
        if not training:
            return images
        images = ops.image.resize(images, (self.from_size, self.from_size))
        batch, span = ops.shape(images)[0], self.from_size - self.size + 1
        offsets = keras.random.randint((batch, 2), 0, span, seed=self.generator)
        steps = ops.arange(self.size, dtype=offsets.dtype)
        rows = (offsets[:, :1] + steps)[:, :, None, None]  # (B, size, 1, 1)
        cols = (offsets[:, 1:] + steps)[:, None, :, None]  # (B, 1, size, 1)
        channels = ops.shape(images)[-1]
        images = ops.take_along_axis(
            images, ops.broadcast_to(rows, (batch, self.size, self.from_size, channels)), 1)
        return ops.take_along_axis(
            images, ops.broadcast_to(cols, (batch, self.size, self.size, channels)), 2)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size, self.size, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "from_size": self.from_size, "size": self.size,
                "seed": self.seed}


def build_augmentation(flip=None, rotation=0.0, translation=0.0, zoom=0.0,
                       brightness=None, channel_shift=0.0, seed=0, crop=None):
    """A ``keras.Sequential`` of augmentation layers, or None if all are off.

    Args:
        flip: None, "horizontal", "vertical" or "horizontal_and_vertical".
        rotation: max rotation in degrees (+-).
        translation: max shift as a fraction of the size (+-).
        zoom: max zoom as a fraction (+-), e.g. 0.15 for scale 0.85-1.15.
        brightness: (low, high) multiplicative range, e.g. (0.5, 1.5).
        channel_shift: max shift of the intensities in 0-255 units (+-), the
            same offset on every channel, as ImageDataGenerator does.
        crop: (from_size, size): resize to from_size, then a random size x
            size window (the papers' "resize to 256, random crop 224").
    """
    layers = []
    if crop:
        layers.append(ResizeAndRandomCrop(*crop, seed=seed))
    if flip:
        layers.append(keras.layers.RandomFlip(flip, seed=seed))
    if rotation:
        layers.append(keras.layers.RandomRotation(rotation / 360.0, fill_mode="constant",
                                                  seed=seed))
    if translation:
        layers.append(keras.layers.RandomTranslation(translation, translation,
                                                     fill_mode="constant", seed=seed))
    if zoom:
        layers.append(keras.layers.RandomZoom(zoom, zoom, fill_mode="constant", seed=seed))
    if brightness:
        layers.append(RandomBrightnessScale(*brightness, seed=seed))
    if channel_shift:
        layers.append(keras.layers.RandomBrightness(channel_shift / 255.0, value_range=(0, 1),
                                                    seed=seed))
    return keras.Sequential(layers, name="augmentation") if layers else None


PHOTOMETRIC = (RandomBrightnessScale, keras.layers.RandomBrightness)


class MasksFollow:
    """An augmentation whose geometric layers move the guides' masks
    (``ignore``, ``attend``) with the image: the masks ride as extra
    channels through the crop, flip, rotation, translation and zoom (the
    same random draw for the image and its masks), and the photometric
    layers (brightness) touch the image alone. Takes the inputs dict."""

    takes_inputs = True
    MASKS = ("ignore", "attend")

    def __init__(self, augmentation):
        layers = list(augmentation.layers)
        split = next((i for i, layer in enumerate(layers) if isinstance(layer, PHOTOMETRIC)),
                     len(layers))
        if any(not isinstance(layer, PHOTOMETRIC) for layer in layers[split:]):
            raise ValueError("MasksFollow: expected the geometric layers before the "
                             "photometric ones (build_augmentation's order)")
        self.geometric = keras.Sequential(layers[:split]) if split else None
        self.photometric = keras.Sequential(layers[split:]) if split < len(layers) else None

    def __call__(self, inputs, training=True):
        import tensorflow as tf
        masks = [name for name in self.MASKS if name in inputs]
        image = inputs["image"]
        if self.geometric is not None:
            stacked = tf.concat([image] + [tf.cast(inputs[m], image.dtype)[..., None]
                                           for m in masks], axis=-1)
            stacked = self.geometric(stacked, training=training)
            image = stacked[..., :3]
            inputs = {**inputs, **{m: stacked[..., 3 + i] for i, m in enumerate(masks)}}
        if self.photometric is not None:
            image = self.photometric(image, training=training)
        return {**inputs, "image": image}
