"""Builders of hostile ``torch.save`` files with any tensor numbers (size,
stride, offset, storage element counts) and the capped reader that loads
one in a fresh process: shared by the hostile PyTorch file tests
(test_hostile_torch.py: storages and tensors; test_hostile_torch_pickles.py:
pickles)."""

import collections
import io
import pickle
import struct
import sys
import zipfile

from tests.common import torch_files
from tests.hostile import GIB, run_capped

CAP = GIB              # NumPy alone resides in about 35 MB
PEAK = 200 * 2 ** 20   # what a refused (or harmless) file may take, all told
SECONDS = 30           # the reader's own time limit: a walk that explodes fails here

# The reading process: a refusal is its message on stderr and exit status 2;
# a file that loads prints what the test asked for. Either way it prints its
# own peak resident memory last (VmHWM: since its exec; ``wait4``'s peak of a
# child forked from this pytest process, which has imported TensorFlow,
# starts at this process's size).
READER = """
import atexit
import sys
import numpy as np

@atexit.register
def peak():
    with open("/proc/self/status") as status:
        kib = [line.split()[1] for line in status if line.startswith("VmHWM:")]
    print("peak", int(kib[0]) * 1024)

from common.backbones.torch_pickle import load_state
try:
    state = load_state(sys.argv[1])
except ValueError as error:
    print(error, file=sys.stderr)
    raise SystemExit(2)
print(eval(sys.argv[2]))
"""


class Storage:
    def __init__(self, key, numel, data=b""):
        self.key, self.numel, self.data = key, numel, data


class Tensor:
    """A tensor as its pickle describes it: any size, stride and offset."""

    def __init__(self, storage, size, stride, offset=0):
        self.storage, self.size, self.stride, self.offset = storage, size, stride, offset


def data_pickle(state):
    """Pickle bytes of ``state``, each ``Tensor`` in it as torch writes one
    (a rebuild call over a persistent storage id), with the numbers given."""
    with torch_files._torch_stand_ins() as (storage_type, rebuild):
        class Pickler(pickle.Pickler):
            def persistent_id(self, obj):
                if isinstance(obj, Storage):
                    return ("storage", storage_type, obj.key, "cpu", obj.numel)
                return None

            def reducer_override(self, obj):
                if isinstance(obj, Tensor):
                    return rebuild, (obj.storage, obj.offset, tuple(obj.size),
                                     tuple(obj.stride), False, collections.OrderedDict())
                return NotImplemented

        buffer = io.BytesIO()
        Pickler(buffer, protocol=2).dump(state)
    return buffer.getvalue()


def write_legacy(path, state, storages, replace=None):
    """A legacy-format file: five pickles (``replace``: position -> other
    bytes), then each storage's element count and raw bytes."""
    parts = [pickle.dumps(torch_files.MAGIC, protocol=2), pickle.dumps(1001, protocol=2),
             pickle.dumps(torch_files.SYS_INFO, protocol=2), data_pickle(state),
             pickle.dumps([s.key for s in storages], protocol=2)]
    for position, raw in (replace or {}).items():
        parts[position] = raw
    parts += [struct.pack("<q", len(s.data) // 4) + s.data for s in storages]
    with open(path, "wb") as handle:
        handle.write(b"".join(parts))
    return path


def write_zip(path, data_pkl, storages=(), compress=zipfile.ZIP_STORED):
    """A zip-format file: ``data_pkl`` and each storage's bytes (``data``:
    bytes, or a number of zero bytes streamed into the entry)."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", data_pkl)
        archive.writestr("archive/byteorder", "little")
        for storage in storages:
            name = f"archive/data/{storage.key}"
            if not isinstance(storage.data, int):
                archive.writestr(name, storage.data, compress)
                continue
            info = zipfile.ZipInfo(name)
            info.compress_type = compress
            with archive.open(info, "w", force_zip64=True) as entry:
                zeros = bytes(1 << 20)
                for _ in range(storage.data >> 20):
                    entry.write(zeros)
        archive.writestr("archive/version", "3\n")
    return path


def read(path, show="len(state)"):
    """``load_state(path)`` in a capped process: (result, what it printed
    besides its peak memory, its peak memory in bytes)."""
    result = run_capped([sys.executable, "-c", READER, str(path), show], cap=CAP,
                        timeout=SECONDS)
    lines = result.stdout.splitlines()
    assert lines and lines[-1].startswith("peak "), (result.stdout, result.stderr[-2000:])
    return result, "\n".join(lines[:-1]), int(lines[-1].split()[1])


def refused(path, *words):
    """The refusal's line, checked: one line naming ``path`` and ``words``,
    exit status 2, and the reader's peak memory near a bare process's."""
    result, _, peak = read(path)
    line = result.one_line()
    assert str(path) in line, line
    for word in words:
        assert word in line, line
    assert peak < PEAK, (peak, line)
    return line


def loaded(path, show):
    """What the reader printed about the state it loaded, within ``PEAK``."""
    result, shown, peak = read(path, show)
    assert result.returncode == 0, result.stderr[-2000:]
    assert peak < PEAK, peak
    return shown
