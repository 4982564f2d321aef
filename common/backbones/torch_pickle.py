"""Reads ``torch.save`` files without PyTorch: the legacy format (before
PyTorch 1.6: pickled metadata, then each storage's raw little-endian bytes)
and the zip format of current PyTorch (``<name>/data.pkl`` plus one
``<name>/data/<key>`` entry per storage).

Tensors are rebuilt from (storage, offset, size, stride) with NumPy strides,
so non-contiguous tensors (transposed views saved as such) come out right.
Only tensors, storages and (ordered) dicts are accepted: any other object in
the pickle is refused, so reading a file runs none of its code.
"""

import collections
import io
import pickle
import struct
import zipfile

import numpy as np

MAGIC = 0x1950A86A20F9469CFC6C
_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64,
           "HalfStorage": np.float16, "LongStorage": np.int64, "IntStorage": np.int32,
           "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
           "BoolStorage": np.bool_}


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


class _Unpickler(pickle.Unpickler):
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
        raise pickle.UnpicklingError(f"unsupported object in checkpoint: {module}.{name}")

    def persistent_load(self, saved_id):
        kind, storage_type, key, _location, numel = saved_id[:5]
        if kind != "storage":
            raise pickle.UnpicklingError(f"unsupported persistent id {kind!r}")
        self.storages.setdefault(key, [_DTYPES[storage_type.name], numel, None])
        return key


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
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n.endswith("data.pkl")]
        if len(names) != 1:
            raise ValueError(f"'{path}' is a zip file but not a PyTorch one (no single "
                             "data.pkl)")
        prefix = names[0][:-len("data.pkl")]
        unpickler = _Unpickler(io.BytesIO(archive.read(names[0])))
        result = unpickler.load()
        for key, entry in unpickler.storages.items():
            dtype, numel, _ = entry
            entry[2] = np.frombuffer(archive.read(f"{prefix}data/{key}"), dtype=dtype,
                                     count=numel)
    return _materialise(result, unpickler.storages, layouts)


def load_legacy(path, layouts=None):
    """The object saved with ``torch.save`` (legacy format), with every tensor
    as a NumPy array (a copy, C-contiguous). ``layouts``, if a dict, receives
    name -> (size, stride, contiguous) of each top-level tensor."""
    with open(path, "rb") as handle:
        if pickle.load(handle) != MAGIC:
            raise ValueError(f"'{path}' is not a legacy PyTorch file")
        pickle.load(handle)  # protocol version
        pickle.load(handle)  # system info
        unpickler = _Unpickler(handle)
        result = unpickler.load()
        keys = pickle.load(handle)
        for key in keys:
            dtype, _, _ = unpickler.storages[key]
            (count,) = struct.unpack("<q", handle.read(8))
            raw = handle.read(count * np.dtype(dtype).itemsize)
            unpickler.storages[key][2] = np.frombuffer(raw, dtype=dtype)
    return _materialise(result, unpickler.storages, layouts)


def _materialise(result, storages, layouts):
    def materialise(value):
        if isinstance(value, _TensorRef):
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
