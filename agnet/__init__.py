"""Attend and Guide Network (Bera et al., IEEE TIP 2021): SIFT + GMM regions,
self-attention, per-region SE-residual blocks, inter-region attention."""

import common  # noqa: E402,F401  (registers the toolkit's Keras objects)
from common.console import script as _script  # noqa: E402

# The console scripts (pyproject.toml [project.scripts]).
train_script = _script("agnet.train:run")
predict_script = _script("agnet.predict:main")
