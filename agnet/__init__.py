"""Attend and Guide Network (Bera et al., IEEE TIP 2021): SIFT + GMM regions,
self-attention, per-region SE-residual blocks, inter-region attention."""

import common  # noqa: E402,F401  (registers the toolkit's Keras objects)
