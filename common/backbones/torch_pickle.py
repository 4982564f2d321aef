"""Reads ``torch.save`` files without PyTorch and without running any of
their code: the legacy format (before PyTorch 1.6: five pickles, namely the
magic number, the protocol version, the system info, the data and the
storage keys, then each storage's raw little-endian bytes) and the zip
format of current PyTorch (``<name>/data.pkl`` plus one ``<name>/data/<key>``
entry per storage).

Every pickle goes through a restricted unpickler: the four header pickles
may hold only ints, strings, bools, dicts and lists; the data pickle only
the tensor rebuild functions, storage types and ``OrderedDict``. Anything
else (a ``__reduce__`` payload naming ``os.system``, say) is refused before
it is called, as are truncated files, storages whose byte count differs
from what the pickle declares and tensors that reach past their storage:
a ``TorchFileError`` (a ValueError) of one line naming the file.

What a file can make this reader allocate is bounded, and checked from the
numbers the file declares before anything is allocated:

- **Pickles**: each is at most ``PICKLE_BYTES`` (2 MiB; a 300-tensor state
  dict's data pickle is about 45 KB) and is scanned opcode by opcode
  (``pickletools``, nothing built) before it is unpickled: every declared
  length must fit inside it, memo indices may not skip ahead (CPython
  zero-fills its memo up to any index it is given: 9 bytes could take
  gigabytes) and sets, bytearrays and out-of-band buffers are refused. The
  objects it builds are then walked once each (memo-shared lists and dicts
  are not re-walked), so cost stays linear in the pickle's size.
- **Storages and tensors** are read and checked by ``torch_storages``, with
  this module's ``MAX_STORAGE_BYTES`` (4 GiB, all storages together) and
  ``COMPRESSION_RATIO`` (10, how far a compressed zip storage may expand):
  each tensor a read-only NumPy view of a storage read once.
"""

import collections
import io
import os
import pickle
import pickletools
import struct
import zipfile

import numpy as np

from common.backbones.torch_storages import (TensorRef, check_bytes, check_total,
                                             check_zip_sizes, is_count, materialise,
                                             read_exactly, read_storage, storage_nbytes,
                                             zip_entry)
from common.errors import summary

MAGIC = 0x1950A86A20F9469CFC6C
PICKLE_BYTES = 2 << 20        # the longest pickle read (each of them)
MAX_STORAGE_BYTES = 4 << 30   # all storages of a file together
COMPRESSION_RATIO = 10        # the most a compressed zip storage may expand
# Opcodes no state dict uses that build sets, bytearrays or out-of-band buffers.
_REFUSED_OPCODES = frozenset({"EMPTY_SET", "ADDITEMS", "FROZENSET", "BYTEARRAY8",
                              "NEXT_BUFFER", "READONLY_BUFFER"})
_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64,
           "HalfStorage": np.float16, "LongStorage": np.int64, "IntStorage": np.int32,
           "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
           "BoolStorage": np.bool_}
# What reading a file can raise besides TorchFileError: all mean "not a state dict".
_BROKEN = (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError,
           AttributeError, struct.error, zipfile.BadZipFile, OverflowError, RecursionError)


class TorchFileError(ValueError):
    """A file that is not a plain PyTorch state dict; nothing of it ran."""


class _StorageType:
    def __init__(self, name):
        self.name = name


def _rebuild_tensor(storage, offset, size, stride, *unused):
    return TensorRef(storage, offset, size, stride)


def _rebuild_parameter(data, *unused):
    return data


class _HeaderUnpickler(pickle.Unpickler):
    """The header pickles: plain values only, no global at all."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refused object {module}.{name}")

    def persistent_load(self, saved_id):
        raise pickle.UnpicklingError(f"refused persistent id {saved_id!r}")


class _Unpickler(pickle.Unpickler):
    """The data pickle: tensors, storages and (ordered) dicts."""

    def __init__(self, handle):
        super().__init__(handle)
        self.storages = {}  # key -> [dtype, numel, array or None]

    def find_class(self, module, name):
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _DTYPES:
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"refused object {module}.{name}")

    def persistent_load(self, saved_id):
        if not (isinstance(saved_id, tuple) and len(saved_id) >= 5
                and saved_id[0] == "storage" and isinstance(saved_id[1], _StorageType)
                and isinstance(saved_id[2], str) and is_count(saved_id[4])):
            raise pickle.UnpicklingError(f"refused persistent id {saved_id!r}")
        _, storage_type, key, _location, numel = saved_id[:5]
        entry = self.storages.setdefault(key, [_DTYPES[storage_type.name], numel, None])
        if entry[:2] != [_DTYPES[storage_type.name], numel]:
            raise pickle.UnpicklingError(f"storage '{key}' declared twice, differently")
        return key


def _plain(value, allowed, what):
    """``value`` if it holds only ``allowed`` types (inside dicts and lists);
    each list and dict is walked once, however often the memo shares it."""
    stack, seen = [value], set()
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict or kind is list:
            if id(item) not in seen:
                seen.add(id(item))
                stack += [*item.keys(), *item.values()] if kind is dict else item
        elif kind not in allowed:
            raise pickle.UnpicklingError(f"refused {kind.__name__} in the {what}")
    return value


def _pickle_length(raw):
    """Where the pickle at the start of ``raw`` ends, after checking it
    opcode by opcode without building anything: its declared lengths fit in
    ``raw``, its memo indices do not skip ahead, it builds no set,
    bytearray or buffer. ``raw`` holds at most ``PICKLE_BYTES``."""
    stream, memo = io.BytesIO(raw), 0
    try:
        for opcode, arg, _ in pickletools.genops(stream):
            if opcode.name in _REFUSED_OPCODES:
                raise pickle.UnpicklingError(f"refused opcode {opcode.name}")
            if opcode.name == "MEMOIZE":
                memo += 1
            elif opcode.name in ("PUT", "BINPUT", "LONG_BINPUT"):
                if arg > memo:  # CPython would zero-fill its memo up to ``arg``
                    raise pickle.UnpicklingError(f"memo index {arg} skips ahead of {memo}")
                memo = max(memo, arg + 1)
    except ValueError as error:  # pickletools: an unknown opcode, a short read, no STOP
        if len(raw) >= PICKLE_BYTES:
            raise pickle.UnpicklingError(f"longer than {PICKLE_BYTES} bytes or broken "
                                         f"({summary(error)})") from None
        raise pickle.UnpicklingError(summary(error)) from None
    return stream.tell()


def _checked_pickle(raw, what):
    """``raw`` cut after its pickle, once that passed ``_pickle_length``."""
    try:
        return raw[:_pickle_length(raw)]
    except pickle.UnpicklingError as error:
        raise pickle.UnpicklingError(f"{what} pickle: {error}") from None


def _next_pickle(handle, what):
    """The bytes of the pickle at ``handle``'s position (checked); the handle
    is left just after it."""
    start = handle.tell()
    raw = _checked_pickle(handle.read(PICKLE_BYTES), what)
    handle.seek(start + len(raw))
    return raw


def _header(handle, what):
    raw = _next_pickle(handle, what)
    try:
        return _plain(_HeaderUnpickler(io.BytesIO(raw)).load(), (int, str, bool), what)
    except pickle.UnpicklingError as error:
        raise pickle.UnpicklingError(f"{what} pickle: {error}") from None


def _refusing(path, read):
    """``read()``, with any sign of a file that is not a state dict turned
    into one TorchFileError line naming ``path``."""
    try:
        return read()
    except TorchFileError:
        raise
    except _BROKEN as error:
        raise TorchFileError(f"'{path}' is not a plain PyTorch state dict (nothing in it "
                             f"was run): {summary(error)}") from None


def load_state(path, layouts=None):
    """The object saved with ``torch.save`` in either format, every tensor as
    a NumPy array (see ``load_legacy`` for ``layouts``)."""
    if zipfile.is_zipfile(path):
        return load_zip(path, layouts)
    return load_legacy(path, layouts)


def load_zip(path, layouts=None):
    """The object of a zip-format ``torch.save`` file (PyTorch >= 1.6)."""
    def read():
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith("data.pkl")]
            if len(names) != 1:
                raise TorchFileError(f"'{path}' is a zip file but not a PyTorch one (no "
                                     "single data.pkl)")
            prefix = names[0][:-len("data.pkl")]
            info = zip_entry(archive, names[0])
            if info.file_size > PICKLE_BYTES:
                raise ValueError(f"its data.pkl declares {info.file_size} bytes, more than "
                                 f"the {PICKLE_BYTES} a pickle may hold")
            with archive.open(info) as entry:
                raw = _checked_pickle(
                    read_exactly(entry, info.file_size, "data.pkl").tobytes(), "data")
            unpickler = _Unpickler(io.BytesIO(raw))
            result = unpickler.load()
            infos = {key: zip_entry(archive, f"{prefix}data/{key}")
                     for key in unpickler.storages}
            check_zip_sizes(unpickler.storages, infos, os.path.getsize(path),
                            COMPRESSION_RATIO, MAX_STORAGE_BYTES)
            for key, entry in unpickler.storages.items():
                with archive.open(infos[key]) as stream:
                    entry[2] = read_storage(stream, key, entry[0], entry[1])
        return materialise(result, unpickler.storages, layouts)
    return _refusing(path, read)


def load_legacy(path, layouts=None):
    """The object saved with ``torch.save`` (legacy format), with every tensor
    as a read-only NumPy view of its storage. ``layouts``, if a dict, receives
    name -> (size, stride, contiguous) of each top-level tensor."""
    def read():
        with open(path, "rb") as handle:
            if _header(handle, "magic number") != MAGIC:
                raise TorchFileError(f"'{path}' is not a legacy PyTorch file")
            _header(handle, "protocol version")
            _header(handle, "system info")
            unpickler = _Unpickler(io.BytesIO(_next_pickle(handle, "data")))
            result = unpickler.load()
            keys = _header(handle, "storage keys")
            if not isinstance(keys, list) or set(keys) != set(unpickler.storages):
                raise pickle.UnpicklingError("the storage keys do not match the data's")
            if len(keys) != len(unpickler.storages):
                raise pickle.UnpicklingError("a storage key is listed twice")
            # Raw storages, each after its 8-byte element count: all must fit.
            left = os.fstat(handle.fileno()).st_size - handle.tell()
            declared = sum(8 + storage_nbytes(entry) for entry in unpickler.storages.values())
            if declared > left:
                raise ValueError(f"its storages declare {declared} bytes; the file holds "
                                 f"{left} after its pickles")
            check_total(unpickler.storages, MAX_STORAGE_BYTES)
            for key in keys:
                dtype, numel, _ = unpickler.storages[key]
                raw = handle.read(8)
                (count,) = struct.unpack("<q", raw) if len(raw) == 8 else (-1,)
                if count < 0:
                    raise TorchFileError(f"'{path}' is truncated: storage '{key}' is "
                                         "incomplete")
                check_bytes(key, count * np.dtype(dtype).itemsize, numel, dtype)
                unpickler.storages[key][2] = read_storage(handle, key, dtype, numel)
        return materialise(result, unpickler.storages, layouts)
    return _refusing(path, read)
