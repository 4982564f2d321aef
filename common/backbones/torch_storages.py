"""The storages and tensors of a ``torch.save`` file: the half of reading
one that comes after its pickles, kept apart from ``torch_pickle`` (which
checks and unpickles them, and calls this) so that each part reads on its
own. Every storage is read, and every tensor made a view of one, only after
the numbers the file declares show that nothing asks for more memory than
the file can justify. The caps are ``torch_pickle``'s ``MAX_STORAGE_BYTES``
and ``COMPRESSION_RATIO``, passed in by its loaders, so that they are set
(and lowered, in tests) in that one place.

- **Storages** are read once, at most ``cap`` bytes (4 GiB) in all, each
  storage counted once however many tensors use it. Legacy format: they
  are stored raw, so together they may not declare more bytes than the rest
  of the file holds. Zip format: a stored entry holds exactly its declared
  bytes; a compressed one may declare at most ``ratio`` (10) times its
  compressed size (float weights barely compress; a zip bomb of zeros
  does), the compressed sizes may not add up to more than the file, and
  every entry is read in bounded chunks up to its declared size (its CRC is
  checked), never on the word of its header alone.
- **Tensors** are read-only NumPy views over their storage (``np.array(t)``
  for a copy), so a tensor never takes memory of its own: one whose size
  declares more elements than its storage holds (a zero stride repeating one
  element a billion times, say), with more than 64 dimensions, or that
  reaches past its storage, is refused from those numbers. Tensors that
  share a storage share its memory, as in PyTorch.

Tensors are rebuilt from (storage, offset, size, stride) with NumPy strides,
so non-contiguous tensors (transposed views saved as such) come out right.
"""

import zipfile

import numpy as np

MAX_DIMS = 64                 # dimensions of a tensor (weights have at most 5)
_CHUNK = 1 << 20              # bytes read at a time from a storage
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2,
                 zipfile.ZIP_LZMA)


class TensorRef:
    """A tensor as the pickle describes it; materialised once storages are read."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset = storage, offset
        self.size, self.stride = tuple(size), tuple(stride)


def is_count(value):
    return type(value) is int and value >= 0


def zip_entry(archive, name):
    """The ZipInfo of ``name``, an entry zipfile can read without a password."""
    info = archive.getinfo(name)
    if info.flag_bits & 0x1:
        raise ValueError(f"its entry '{name}' is encrypted")
    if info.compress_type not in _COMPRESSIONS:
        raise ValueError(f"its entry '{name}' uses compression method {info.compress_type}, "
                         "which zipfile does not read")
    return info


def storage_nbytes(entry):
    dtype, numel, _ = entry
    return numel * np.dtype(dtype).itemsize


def check_bytes(key, found, numel, dtype):
    expected = numel * np.dtype(dtype).itemsize
    if found != expected:
        raise ValueError(f"storage '{key}' holds {found} bytes; its tensors declare "
                         f"{numel} x {np.dtype(dtype).name} = {expected}")


def check_total(storages, cap):
    total = sum(storage_nbytes(entry) for entry in storages.values())
    if total > cap:
        raise ValueError(f"its storages declare {total} bytes, more than the "
                         f"{cap} this reader takes")


def check_zip_sizes(storages, infos, file_size, ratio, cap):
    """Before any storage is read: each zip entry holds what its tensors
    declare, a compressed one expands at most ``ratio`` times, the entries'
    compressed bytes fit in the file and all storages in ``cap`` bytes."""
    for key, entry in storages.items():
        info, expected = infos[key], storage_nbytes(entry)
        check_bytes(key, info.file_size, entry[1], entry[0])
        if info.compress_type == zipfile.ZIP_STORED:
            if info.compress_size != expected:
                raise ValueError(f"storage '{key}' is stored in {info.compress_size} bytes "
                                 f"but declares {expected}")
        elif expected > ratio * info.compress_size:
            raise ValueError(f"storage '{key}' declares {expected} bytes compressed into "
                             f"{info.compress_size}: more than {ratio} times")
    packed = sum(info.compress_size for info in infos.values())
    if packed > file_size:
        raise ValueError(f"its storages' entries declare {packed} bytes, more than the "
                         f"file's {file_size}")
    check_total(storages, cap)


def read_exactly(stream, nbytes, what):
    """``nbytes`` bytes of ``stream`` (a uint8 array), read in bounded chunks."""
    buffer = np.empty(nbytes, np.uint8)
    view, done = memoryview(buffer), 0
    while done < nbytes:
        got = stream.readinto(view[done:done + _CHUNK])
        if not got:
            raise ValueError(f"{what} is truncated: {done} of its {nbytes} bytes")
        done += got
    return buffer


def read_storage(stream, key, dtype, numel):
    array = read_exactly(stream, numel * np.dtype(dtype).itemsize,
                         f"storage '{key}'").view(dtype)
    array.flags.writeable = False
    return array


def _check_tensor(value, storages):
    """That ``value`` asks for no more elements than its storage holds and
    lies inside it (as_strided does not check), from the declared numbers."""
    fields = (value.offset, *value.size, *value.stride)
    if (value.storage not in storages or len(value.size) != len(value.stride)
            or len(value.size) > MAX_DIMS or not all(is_count(f) for f in fields)):
        raise ValueError(f"refused tensor description {value.size}/{value.stride} of "
                         f"storage {value.storage!r}")
    numel = storages[value.storage][1]
    elements = 1
    for n in value.size:
        elements *= n
    if elements > numel:
        raise ValueError(f"a tensor of size {value.size} declares {elements} elements, more "
                         f"than the {numel} of storage '{value.storage}'")
    last = value.offset + sum((n - 1) * s for n, s in zip(value.size, value.stride))
    if elements and last >= numel:
        raise ValueError(f"a tensor of size {value.size} reaches past the {numel} "
                         f"elements of storage '{value.storage}'")


def _view(value, storages):
    """The tensor as a read-only view of its storage (no copy)."""
    _check_tensor(value, storages)
    flat = storages[value.storage][2]
    return np.lib.stride_tricks.as_strided(
        flat[value.offset:], shape=value.size,
        strides=tuple(s * flat.itemsize for s in value.stride), writeable=False)


def _is_contiguous(size, stride):
    expected, step = [], 1
    for dim in reversed(size):
        expected.insert(0, step)
        step *= dim
    return all(s == e for s, e, d in zip(stride, expected, size) if d > 1)


def materialise(result, storages, layouts):
    """``result`` with each tensor in it (and in its dicts) a view of its read
    storage; ``layouts``, if a dict, receives name -> (size, stride,
    contiguous) of each top-level tensor."""
    done = {}  # id -> what it became: memo-shared dicts and tensors are made once

    def make(value):
        if id(value) in done:
            return done[id(value)]
        if isinstance(value, TensorRef):
            done[id(value)] = _view(value, storages)
            return done[id(value)]
        if isinstance(value, dict):
            copy = done[id(value)] = type(value)()
            for key, item in value.items():
                copy[key] = make(item)
            return copy
        return value

    if isinstance(layouts, dict) and isinstance(result, dict):
        for name, value in result.items():
            if isinstance(value, TensorRef):
                layouts[name] = (value.size, value.stride,
                                 _is_contiguous(value.size, value.stride))
    return make(result)
