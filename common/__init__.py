"""Shared core of the toolkit: layers, the CAM engine, CAM losses, the guided
classifier, backbones, data and the training harness.

Importing ``common`` is cheap (no TensorFlow): each module registers its own
Keras objects, and ``common.saving.load_model`` imports the ones a saved
model needs.
"""

__version__ = "0.2.0"
