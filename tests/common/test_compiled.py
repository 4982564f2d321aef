"""common.compiled: numba's cache where it can keep one, a per-process
compile where it cannot (numba refuses cache=True at import then)."""

import numba
import pytest

from common.compiled import compiled, is_cached


def _add(a, b):
    return a + b


def _refuse_caching(message):
    def enable_caching(self):
        raise RuntimeError(message)
    return enable_caching


def test_without_a_cache_folder_the_function_still_compiles_and_counts_as_uncached(
        monkeypatch):
    monkeypatch.setattr(numba.core.dispatcher.Dispatcher, "enable_caching", _refuse_caching(
        "cannot cache function '_add': no locator available for file 'x.py'"))
    add = compiled(_add)
    assert add(2, 3) == 5 and add(0.5, 0.25) == 0.75
    assert not is_cached(add)


def test_other_errors_of_numba_are_not_hidden(monkeypatch):
    monkeypatch.setattr(numba.core.dispatcher.Dispatcher, "enable_caching",
                        _refuse_caching("something else"))
    with pytest.raises(RuntimeError, match="something else"):
        compiled(_add)
