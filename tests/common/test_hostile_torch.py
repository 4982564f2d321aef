"""PyTorch weight files built to take memory or time through their storages
and tensors rather than run code: a zero-stride tensor declaring billions of
elements, one storage referenced a thousand times, a zip bomb posing as a
storage, zip entries declaring sizes they do not hold (the pickles' turn is
test_hostile_torch_pickles.py). Each is read by
``common.backbones.torch_pickle`` in a fresh process under an address-space
cap: it is refused in one line naming the file (or, where it is harmless
once read right, loaded), quickly, with the process's peak memory near a
bare NumPy process's."""

import collections
import os
import struct
import sys
import zipfile

import numpy as np
import pytest

from common.backbones.torch_pickle import load_state
from tests.common.hostile_torch_files import (Storage, Tensor, data_pickle, loaded, refused,
                                              write_legacy, write_zip)
from tests.hostile import GIB, run_capped


# 1. A stride-0 tensor: one stored element repeated billions of times.
@pytest.mark.parametrize("size,stride", [((4_000_000_000,), (0,)),
                                         ((65_536, 65_536), (0, 0)),
                                         ((1_000_000, 4), (0, 1))])
def test_a_tensor_declaring_more_elements_than_its_storage_is_refused(tmp_path, size, stride):
    storage = Storage("0", 4, np.arange(4, dtype="float32").tobytes())
    path = write_legacy(tmp_path / "stride0.pth",
                        collections.OrderedDict(weight=Tensor(storage, size, stride)),
                        [storage])
    assert path.stat().st_size < 500
    line = refused(path, "declares", "elements, more than the 4 of storage '0'")
    assert str(size) in line, line


# 2. One storage referenced a thousand times: read once, every tensor a view.
@pytest.mark.parametrize("shared", ["one tensor, memo references", "a rebuild each"])
def test_a_storage_referenced_a_thousand_times_is_read_once(tmp_path, shared):
    numel = 1 << 18  # 1 MiB: a thousand copies would be 1 GiB
    storage = Storage("0", numel, np.arange(numel, dtype="float32").tobytes())
    one = Tensor(storage, (512, 512), (512, 1))
    state = collections.OrderedDict(
        (f"w{i}", one if shared.startswith("one") else
         Tensor(storage, (512, 512 - i % 7), (512, 1), offset=i % 7)) for i in range(1000))
    path = write_legacy(tmp_path / "shared.pth", state, [storage])
    shown = loaded(path, "len(state), all(np.shares_memory(v, state['w0']) for v in "
                         "state.values()), float(state['w999'][511, -1]), "
                         "state['w5'].flags.writeable")
    # w999 starts at element 999 % 7 = 5 and is 512 - 5 wide: it ends where w0 does.
    assert shown == f"(1000, True, {float(511 * 512 + 511)}, False)", shown


# 3. A deflated storage: 256 MiB of zeros in a file of about 256 KB.
def test_a_compressed_storage_beyond_the_ratio_is_refused_unread(tmp_path):
    nbytes = 256 << 20
    storage = Storage("0", nbytes // 4, nbytes)
    pickled = data_pickle(collections.OrderedDict(
        weight=Tensor(storage, (nbytes // 4,), (1,))))
    path = write_zip(tmp_path / "bomb.pth", pickled, [storage], zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < nbytes // 500
    refused(path, "storage '0' declares 268435456 bytes compressed into",
            "more than 10 times")


def patch_entry(path, name, compressed=None, uncompressed=None, flags=None, method=None):
    """Rewrites entry ``name``'s sizes, flag bits or compression method in
    its local header and in the central directory (where zipfile reads them)."""
    raw, name = bytearray(path.read_bytes()), name.encode()
    for signature, flag_at, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
        at = raw.index(signature)
        while raw[at + name_at:at + name_at + len(name)] != name:
            at = raw.index(signature, at + 4)
        for offset, form, value in ((0, "<H", flags), (2, "<H", method),
                                    (12, "<I", compressed), (16, "<I", uncompressed)):
            if value is not None:
                struct.pack_into(form, raw, at + flag_at + offset, value)
    path.write_bytes(bytes(raw))


def test_a_stored_entry_must_hold_what_it_declares(tmp_path):
    """A stored entry of 4 bytes whose headers declare 1 GiB: refused before
    anything is allocated (an unchecked reader reads 4 bytes and views a GiB
    past them)."""
    storage = Storage("0", 1 << 28, bytes(4))
    pickled = data_pickle(collections.OrderedDict(w=Tensor(storage, (1 << 28,), (1,))))
    path = write_zip(tmp_path / "stored.pth", pickled, [storage])
    patch_entry(path, "archive/data/0", uncompressed=1 << 30)
    refused(path, "storage '0' is stored in 4 bytes but declares 1073741824")


def test_compressed_entries_must_fit_in_the_file(tmp_path):
    """Compressed sizes, which a crafted zip can overlap or inflate, add up
    to no more than the file (or the ratio would allow anything)."""
    storage = Storage("0", 1 << 18, bytes(1 << 20))
    pickled = data_pickle(collections.OrderedDict(w=Tensor(storage, (1 << 18,), (1,))))
    path = write_zip(tmp_path / "deflated.pth", pickled, [storage], zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 4000
    patch_entry(path, "archive/data/0", compressed=200_000)  # ratio 5: allowed
    refused(path, "entries declare 200000 bytes, more than the file's")


@pytest.mark.parametrize("patch,words", [({"flags": 1}, "is encrypted"),
                                         ({"method": 99}, "compression method 99")])
def test_a_storage_zipfile_cannot_read_is_one_line(tmp_path, patch, words):
    storage = Storage("0", 2, np.ones(2, "float32").tobytes())
    pickled = data_pickle(collections.OrderedDict(w=Tensor(storage, (2,), (1,))))
    path = write_zip(tmp_path / "odd.pth", pickled, [storage])
    patch_entry(path, "archive/data/0", **patch)
    with pytest.raises(ValueError) as error:
        load_state(str(path))
    assert str(path) in str(error.value) and words in str(error.value), error.value


def test_a_deflated_file_of_real_weights_still_loads(tmp_path):
    weights = np.random.default_rng(0).normal(size=(64, 3, 3, 3)).astype("float32")
    storage = Storage("0", weights.size, weights.tobytes())
    pickled = data_pickle(collections.OrderedDict(
        w=Tensor(storage, weights.shape, tuple(s // 4 for s in weights.strides))))
    path = write_zip(tmp_path / "deflated.pth", pickled, [storage], zipfile.ZIP_DEFLATED)
    loaded = load_state(str(path))
    np.testing.assert_array_equal(loaded["w"], weights)


def test_storages_beyond_the_stated_cap_are_refused(tmp_path, monkeypatch):
    """All storages together: at most ``MAX_STORAGE_BYTES`` (4 GiB; here
    lowered, as a file over it would be 4 GiB), each counted once."""
    from common.backbones import torch_pickle
    monkeypatch.setattr(torch_pickle, "MAX_STORAGE_BYTES", 4096)
    storage = Storage("0", 1024, bytes(4096))
    state = collections.OrderedDict(a=Tensor(storage, (1024,), (1,)),
                                    b=Tensor(storage, (32, 32), (32, 1)))
    load_state(str(write_legacy(tmp_path / "at.pth", state, [storage])))
    monkeypatch.setattr(torch_pickle, "MAX_STORAGE_BYTES", 4095)
    for path in (write_legacy(tmp_path / "over.pth", state, [storage]),
                 write_zip(tmp_path / "over.zip.pth", data_pickle(state), [storage])):
        with pytest.raises(ValueError) as error:
            load_state(str(path))
        assert str(path) in str(error.value) and "declare 4096 bytes, more than the 4095" \
            in str(error.value), error.value


def test_attention_train_refuses_a_hostile_weights_file_in_one_line(tmp_path):
    """The installed command, squeezenet1_1 with ``--weights``: exit status 2,
    one stderr line naming the file, no run folder (TensorFlow: 2.5 GiB cap)."""
    storage = Storage("0", 4, np.arange(4, dtype="float32").tobytes())
    path = write_legacy(tmp_path / "stride0.pth", collections.OrderedDict(
        weight=Tensor(storage, (4_000_000_000,), (0,))), [storage])
    result = run_capped([os.path.join(os.path.dirname(sys.executable), "attention-train"),
                         "--backbone", "squeezenet1_1", "--weights", str(path), "--epochs",
                         "1", "--output", str(tmp_path / "run")], cap=2 * GIB + GIB // 2,
                        cwd=tmp_path)
    line = result.one_line()
    assert str(path) in line and "declares 4000000000 elements" in line, line
    assert not (tmp_path / "run").exists()
