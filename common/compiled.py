"""numba's ``njit`` for the toolkit's compiled loops, in one place: no GIL
held (callers run them on a thread per core) and compiled once per machine
into numba's cache; where no cache folder is writable (a read-only install
without a writable home, e.g. a serving container) numba refuses
``cache=True`` at import, so the loops then compile once per process instead."""

import os

import numba


def compiled(function):
    """``numba.njit(nogil=True, cache=True)(function)``, or without the cache
    where numba has no folder to keep it in."""
    try:
        return numba.njit(nogil=True, cache=True)(function)
    except RuntimeError as error:  # numba.core.caching: "no locator available for file"
        if "no locator available" not in str(error):
            raise
        return numba.njit(nogil=True)(function)


def is_cached(dispatcher):
    """Whether numba's cache holds ``dispatcher``'s index file (numba's
    internals: where they are not as expected, it counts as cached)."""
    cache = getattr(dispatcher, "_cache", None)
    if isinstance(cache, numba.core.caching.NullCache):
        return False
    try:
        return os.path.exists(cache._cache_file._index_path)
    except AttributeError:
        return True
