"""PyTorch weight files whose pickles are built to take memory or time
rather than run code: memo-shared nested lists and dicts walked
exponentially, a memo index that makes CPython's unpickler zero-fill
gigabytes, a declared length past the pickle, a pickle over the limit.
Read as in test_hostile_torch.py (storages and tensors), in a capped fresh
process: refused in one line naming the file, or loaded where harmless,
within a bare NumPy process's memory."""

import collections
import pickle
import struct

import numpy as np
import pytest

from tests.common import torch_files
from tests.common.hostile_torch_files import (Storage, Tensor, data_pickle, loaded, refused,
                                              write_legacy, write_zip)


def nested(depth, pair):
    """A structure of ``depth`` levels, each holding the level below twice:
    ``depth`` objects in a pickle of a few hundred bytes, 2 ** depth paths."""
    value = "leaf"
    for _ in range(depth):
        value = pair(value)
    return value


# 1. Memo-shared nested lists and dicts: few objects, 2 ** 64 paths.
def test_shared_nested_lists_in_a_header_are_walked_once(tmp_path):
    """The system info holds [[a, a], [a, a]]... 64 levels deep; the storage
    keys pickle after it carries a payload, which is still refused (and not
    run) once the walk is over."""
    marker = tmp_path / "ran"
    info = dict(torch_files.SYS_INFO, extra=nested(64, lambda v: [v, v]))
    header = pickle.dumps(info, protocol=2)
    assert len(header) < 600
    storage = Storage("0", 2, np.ones(2, "float32").tobytes())
    path = write_legacy(tmp_path / "walk.pth", collections.OrderedDict(
        bias=Tensor(storage, (2,), (1,))), [storage],
        {2: header, 4: torch_files.payload_pickle(marker)})
    refused(path, "storage keys pickle", "mkdir")
    assert not marker.exists()


def test_shared_nested_dicts_in_the_data_pickle_are_made_once(tmp_path):
    storage = Storage("0", 2, np.ones(2, "float32").tobytes())
    pickled = data_pickle(collections.OrderedDict(
        bias=Tensor(storage, (2,), (1,)), extra=nested(64, lambda v: {"a": v, "b": v})))
    assert len(pickled) < 1000
    path = write_zip(tmp_path / "walk.pth", pickled, [storage])
    shown = loaded(path, "state['extra']['a'] is state['extra']['b'], state['bias'].tolist()")
    assert shown == "(True, [1.0, 1.0])", shown


# 2. A memo index far ahead: CPython's unpickler zero-fills its memo up to it.
MEMO_BOMB = b"\x80\x02Nr" + struct.pack("<I", 1 << 28) + b"."  # 9 bytes -> 4 GiB


@pytest.mark.parametrize("where", ["legacy system info", "zip data.pkl"])
def test_a_memo_index_far_ahead_is_refused_before_unpickling(tmp_path, where):
    storage = Storage("0", 2, np.ones(2, "float32").tobytes())
    if where.startswith("legacy"):
        path = write_legacy(tmp_path / "memo.pth", collections.OrderedDict(
            bias=Tensor(storage, (2,), (1,))), [storage], {2: MEMO_BOMB})
    else:
        path = write_zip(tmp_path / "memo.pth", MEMO_BOMB, [storage])
    refused(path, "memo index 268435456 skips ahead of 0")


def test_a_declared_length_past_the_pickle_is_refused_unallocated(tmp_path):
    """BINBYTES8 declaring 2 ** 40 bytes: CPython allocates before it reads."""
    path = write_zip(tmp_path / "long.pth", b"\x80\x04\x8e" + struct.pack("<Q", 1 << 40) + b".")
    refused(path, "data pickle")


@pytest.mark.parametrize("where", ["legacy system info", "zip data.pkl"])
def test_a_pickle_longer_than_the_limit_is_refused(tmp_path, where):
    """A pickle of 4 MiB (4 million empty dicts would take 300 MB): at most
    2 MiB of it is read, none of it unpickled."""
    long = b"\x80\x02(" + b"}" * (4 << 20) + b"l."
    storage = Storage("0", 2, np.ones(2, "float32").tobytes())
    if where.startswith("legacy"):
        path = write_legacy(tmp_path / "long.pth", collections.OrderedDict(
            bias=Tensor(storage, (2,), (1,))), [storage], {2: long})
        refused(path, "system info pickle: longer than 2097152 bytes")
    else:
        path = write_zip(tmp_path / "long.pth", long, [storage])
        refused(path, "its data.pkl declares 4194309 bytes, more than the 2097152")
