"""Forced Spatial Attention (Rangesh & Trivedi, ICCV-W 2019): SqueezeNet v1.1
whose class activation maps are pushed toward per-class masks in training."""

import common  # noqa: E402,F401  (registers the toolkit's Keras objects)
from common.console import script as _script  # noqa: E402

# The console scripts (pyproject.toml [project.scripts]).
train_script = _script("fsa.train:run")

from common.lazy import lazy_exports as _lazy_exports  # noqa: E402

__getattr__ = _lazy_exports(__name__, {
    "ForcedSpatialAttention": "guide", "FsaModel": "model", "StageSwitch": "monitor"})
