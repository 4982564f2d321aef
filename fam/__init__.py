"""Foreground Activation Maps (Meng et al., ICCV 2021) for weakly supervised
object localisation, with the WSOL protocol's metrics."""
