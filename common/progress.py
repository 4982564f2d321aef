"""Progress bars of the long steps (regions, evaluation, exports) on stderr,
off with ``--verbose 0``: one place that decides how they look."""

import sys

from tqdm import tqdm


def bar(iterable=None, total=None, desc="", verbose=1, unit="it"):
    """A tqdm bar on stderr, shown when ``verbose`` (also when stderr is not
    a terminal, as Keras's own bars are), hidden with ``verbose=0``."""
    return tqdm(iterable, total=total, desc=desc, unit=unit, file=sys.stderr,
                disable=not verbose, dynamic_ncols=True, mininterval=0.5)
