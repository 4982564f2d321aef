"""Attend and Guide Network. Importing the package registers its layers for
``keras.saving.load_model``."""

import common  # noqa: F401
from agnet import layers  # noqa: F401
