"""Foreground Activation Maps. Importing the package registers its layers."""

import common  # noqa: F401
from fam import model  # noqa: F401
