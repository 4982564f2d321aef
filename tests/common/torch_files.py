"""Writers of ``torch.save`` files without PyTorch, from NumPy arrays, in
both layouts (zip: ``archive/data.pkl`` + ``archive/data/N``; legacy: five
pickles then the raw storages), and a hostile pickle that creates a marker
folder when unpickled: the tests of ``common.backbones.torch_pickle``."""

import collections
import contextlib
import io
import os
import pickle
import struct
import sys
import types
import zipfile

MAGIC = 0x1950A86A20F9469CFC6C
SYS_INFO = {"protocol_version": 1001, "little_endian": True,
            "type_sizes": {"short": 2, "int": 4, "long": 4}}


class Payload:
    """Unpickling it runs ``os.mkdir(marker)``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


class _Storage:
    def __init__(self, key, array):
        self.key, self.array = key, array


def payload_pickle(marker):
    return pickle.dumps(Payload(marker), protocol=2)


@contextlib.contextmanager
def _torch_stand_ins():
    """The torch globals a state dict pickle names, only while pickling."""
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called while writing")

    FloatStorage.__module__, _rebuild_tensor_v2.__module__ = "torch", "torch._utils"
    FloatStorage.__qualname__ = "FloatStorage"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    torch.FloatStorage, torch._utils, utils._rebuild_tensor_v2 = FloatStorage, utils, \
        _rebuild_tensor_v2
    sys.modules.update({"torch": torch, "torch._utils": utils})
    try:
        yield FloatStorage, _rebuild_tensor_v2
    finally:
        del sys.modules["torch"], sys.modules["torch._utils"]


def data_pickle(state, numel=None):
    """(pickle bytes of the state dict, [(key, float32 array)]): each array
    its own storage; ``numel`` overrides the element counts the pickle declares."""
    storages = [(str(i), v.astype("float32")) for i, v in enumerate(state.values())]
    with _torch_stand_ins() as (storage_type, rebuild):
        class Tensor:
            def __init__(self, key, array):
                self.key, self.array = key, array

            def __reduce__(self):
                strides = tuple(s // 4 for s in self.array.strides)
                return rebuild, (_Storage(self.key, self.array), 0, self.array.shape, strides, False,
                                 collections.OrderedDict())

        class Pickler(pickle.Pickler):
            def persistent_id(self, obj):
                if isinstance(obj, _Storage):
                    return ("storage", storage_type, obj.key, "cpu",
                            obj.array.size if numel is None else numel)
                return None

        buffer = io.BytesIO()
        Pickler(buffer, protocol=2).dump(collections.OrderedDict(
            (name, Tensor(key, array)) for name, (key, array) in zip(state, storages)))
    return buffer.getvalue(), storages


def write_torch_zip(path, state, data_pkl=None):
    """What ``torch.save(state, path)`` writes (``data_pkl``: other bytes)."""
    pickled, storages = data_pickle(state)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", pickled if data_pkl is None else data_pkl)
        archive.writestr("archive/byteorder", "little")
        for key, array in storages:
            archive.writestr(f"archive/data/{key}", array.tobytes())
        archive.writestr("archive/version", "3\n")


def legacy_bytes(state, replace=None, numel=None):
    """The bytes of a legacy-format file; ``replace`` maps a position (0 magic,
    1 protocol, 2 system info, 3 data, 4 storage keys) to other pickle bytes."""
    pickled, storages = data_pickle(state, numel)
    parts = [pickle.dumps(MAGIC, protocol=2), pickle.dumps(1001, protocol=2),
             pickle.dumps(SYS_INFO, protocol=2), pickled,
             pickle.dumps([key for key, _ in storages], protocol=2)]
    for position, raw in (replace or {}).items():
        parts[position] = raw
    for _, array in storages:
        parts.append(struct.pack("<q", array.size) + array.tobytes())
    return b"".join(parts)


def write_torch_legacy(path, state, replace=None, numel=None):
    with open(path, "wb") as handle:
        handle.write(legacy_bytes(state, replace, numel))
