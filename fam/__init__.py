"""Foreground Activation Maps (Meng et al., ICCV 2021) for weakly supervised
object localisation, with the WSOL protocol's metrics."""

import common  # noqa: E402,F401  (registers the toolkit's Keras objects)
from common.console import script as _script  # noqa: E402

# The console scripts (pyproject.toml [project.scripts]).
train_script = _script("fam.train:run")
evaluate_script = _script("fam.evaluate:main")

from common.lazy import lazy_exports as _lazy_exports  # noqa: E402

__getattr__ = _lazy_exports(__name__, {
    "FamModel": "model", "FamMaps": "guide", "FamRegularisers": "guide"})
