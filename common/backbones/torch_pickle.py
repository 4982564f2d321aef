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

Tensors are rebuilt from (storage, offset, size, stride) with NumPy strides,
so non-contiguous tensors (transposed views saved as such) come out right.
"""

import collections
import io
import os
import pickle
import struct
import zipfile

import numpy as np

from common.errors import summary

MAGIC = 0x1950A86A20F9469CFC6C
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


class _TensorRef:
    """A tensor as the pickle describes it; materialised once storages are read."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset = storage, offset
        self.size, self.stride = tuple(size), tuple(stride)


def _rebuild_tensor(storage, offset, size, stride, *unused):
    return _TensorRef(storage, offset, size, stride)


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
                and isinstance(saved_id[2], str) and _count(saved_id[4])):
            raise pickle.UnpicklingError(f"refused persistent id {saved_id!r}")
        _, storage_type, key, _location, numel = saved_id[:5]
        entry = self.storages.setdefault(key, [_DTYPES[storage_type.name], numel, None])
        if entry[:2] != [_DTYPES[storage_type.name], numel]:
            raise pickle.UnpicklingError(f"storage '{key}' declared twice, differently")
        return key


def _count(value):
    return type(value) is int and value >= 0


def _plain(value, allowed, what):
    """``value`` if it holds only ``allowed`` types (inside dicts and lists)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is dict:
            stack += [*item.keys(), *item.values()]
        elif type(item) is list:
            stack += item
        elif type(item) not in allowed:
            raise pickle.UnpicklingError(f"refused {type(item).__name__} in the {what}")
    return value


def _header(handle, what):
    try:
        return _plain(_HeaderUnpickler(handle).load(), (int, str, bool), what)
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


def _is_contiguous(size, stride):
    expected, step = [], 1
    for dim in reversed(size):
        expected.insert(0, step)
        step *= dim
    return all(s == e for s, e, d in zip(stride, expected, size) if d > 1)


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
            unpickler = _Unpickler(io.BytesIO(archive.read(names[0])))
            result = unpickler.load()
            for key, entry in unpickler.storages.items():
                dtype, numel, _ = entry
                info = archive.getinfo(f"{prefix}data/{key}")
                _check_bytes(key, info.file_size, numel, dtype)
                entry[2] = np.frombuffer(archive.read(info), dtype=dtype)
        return _materialise(result, unpickler.storages, layouts)
    return _refusing(path, read)


def load_legacy(path, layouts=None):
    """The object saved with ``torch.save`` (legacy format), with every tensor
    as a NumPy array (a copy, C-contiguous). ``layouts``, if a dict, receives
    name -> (size, stride, contiguous) of each top-level tensor."""
    def read():
        with open(path, "rb") as handle:
            if _header(handle, "magic number") != MAGIC:
                raise TorchFileError(f"'{path}' is not a legacy PyTorch file")
            _header(handle, "protocol version")
            _header(handle, "system info")
            unpickler = _Unpickler(handle)
            result = unpickler.load()
            keys = _header(handle, "storage keys")
            if not isinstance(keys, list) or set(keys) != set(unpickler.storages):
                raise pickle.UnpicklingError("the storage keys do not match the data's")
            size = os.fstat(handle.fileno()).st_size
            for key in keys:
                dtype, numel, _ = unpickler.storages[key]
                raw = handle.read(8)
                (count,) = struct.unpack("<q", raw) if len(raw) == 8 else (-1,)
                if count < 0 or count * np.dtype(dtype).itemsize > size - handle.tell():
                    raise TorchFileError(f"'{path}' is truncated: storage '{key}' is "
                                         "incomplete")
                _check_bytes(key, count * np.dtype(dtype).itemsize, numel, dtype)
                raw = handle.read(count * np.dtype(dtype).itemsize)
                unpickler.storages[key][2] = np.frombuffer(raw, dtype=dtype)
        return _materialise(result, unpickler.storages, layouts)
    return _refusing(path, read)


def _check_bytes(key, found, numel, dtype):
    expected = numel * np.dtype(dtype).itemsize
    if found != expected:
        raise ValueError(f"storage '{key}' holds {found} bytes; its tensors declare "
                         f"{numel} x {np.dtype(dtype).name} = {expected}")


def _check_tensor(value, storages):
    """That ``value``'s view lies inside its storage (as_strided does not check)."""
    fields = (value.offset, *value.size, *value.stride)
    if (value.storage not in storages or len(value.size) != len(value.stride)
            or not all(_count(f) for f in fields)):
        raise ValueError(f"refused tensor description {value.size}/{value.stride} of "
                         f"storage {value.storage!r}")
    numel = storages[value.storage][1]
    last = value.offset + sum((n - 1) * s for n, s in zip(value.size, value.stride))
    if 0 not in value.size and last >= numel:
        raise ValueError(f"a tensor of size {value.size} reaches past the {numel} "
                         f"elements of storage '{value.storage}'")


def _materialise(result, storages, layouts):
    def materialise(value):
        if isinstance(value, _TensorRef):
            _check_tensor(value, storages)
            flat = storages[value.storage][2]
            item = flat.itemsize
            view = np.lib.stride_tricks.as_strided(
                flat[value.offset:], shape=value.size,
                strides=tuple(s * item for s in value.stride))
            return np.array(view)
        if isinstance(value, dict):
            return type(value)((k, materialise(v)) for k, v in value.items())
        return value

    if isinstance(layouts, dict) and isinstance(result, dict):
        for name, value in result.items():
            if isinstance(value, _TensorRef):
                layouts[name] = (value.size, value.stride,
                                 _is_contiguous(value.size, value.stride))
    return materialise(result)
