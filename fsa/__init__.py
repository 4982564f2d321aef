"""Forced Spatial Attention (Rangesh & Trivedi, ICCV-W 2019): SqueezeNet v1.1
whose class activation maps are pushed toward per-class masks in training."""

import common  # noqa: E402,F401  (registers the toolkit's Keras objects)

from common.lazy import lazy_exports as _lazy_exports  # noqa: E402

__getattr__ = _lazy_exports(__name__, {
    "ForcedSpatialAttention": "guide", "FsaModel": "model", "StageSwitch": "model"})
