"""Shared core of the toolkit. Importing ``common`` registers its Keras
layers and models, so ``keras.saving.load_model`` can revive them."""

from common import augment, backbones, classifier, layers  # noqa: F401
