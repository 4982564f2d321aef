"""Forced Spatial Attention. Importing the package registers its model and
the ``squeezenet1_1`` backbone."""

import common  # noqa: F401
from fsa import model, squeezenet  # noqa: F401
