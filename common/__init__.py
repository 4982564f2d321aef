"""Shared core of the toolkit: layers, the CAM engine, CAM losses, the guided
classifier, backbones, data and the training harness.

Importing ``common`` is cheap (no TensorFlow), and it makes
``keras.saving.load_model`` find every toolkit class, whenever Keras is
imported (``common.keras_objects``).
"""

__version__ = "0.2.0"

from common import keras_objects as _keras_objects  # noqa: E402

_keras_objects.register_when_keras_loads()

from common.lazy import lazy_exports as _lazy_exports  # noqa: E402

__getattr__ = _lazy_exports(__name__, {
    "GuidedClassifier": "classifier", "build_cam_classifier": "classifier",
    "Guide": "guidance", "Step": "guidance", "HomogeneousNegativeCam": "guidance",
    "BoxEnergy": "guidance", "InputGradientPenalty": "input_gradient",
    "Counterexamples": "counterexamples", "GradCamPenalty": "gradcam_penalty",
    "Hint": "hint", "GradCAM": "cam", "with_input_range": "networks",
    "load_network": "networks"})
