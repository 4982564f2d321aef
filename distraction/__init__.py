"""Playing to distraction (Morales et al., 2021): Grad-CAM-guided occlusion
training."""

import common  # noqa: E402,F401  (registers the toolkit's Keras objects)
