"""Foreground Activation Maps (Meng et al., ICCV 2021) for weakly supervised
object localisation, with the WSOL protocol's metrics."""

import common  # noqa: E402,F401  (registers the toolkit's Keras objects)
