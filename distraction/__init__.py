"""Playing to distraction (Morales et al., 2021): Grad-CAM-guided occlusion
training."""

import common  # noqa: E402,F401  (registers the toolkit's Keras objects)
from common.console import script as _script  # noqa: E402

# The console scripts (pyproject.toml [project.scripts]).
train_script = _script("distraction.train:run")

from common.lazy import lazy_exports as _lazy_exports  # noqa: E402

__getattr__ = _lazy_exports(__name__, {
    "GradCamOcclusion": "guide", "DistractionModel": "model"})
