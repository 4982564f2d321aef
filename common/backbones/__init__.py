"""Backbones: the name registry, the preprocessing layer and each builder."""

from common.lazy import lazy_exports

_EXPORTS = {"BACKBONES": "registry", "build_backbone": "registry",
            "register_backbone": "registry", "BackbonePreprocessing": "preprocessing"}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
