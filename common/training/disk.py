"""A full disk said in one line, before a half-written file can break a run.

HDF5 (behind ``.weights.h5`` and ``.keras`` files) answers a full disk with
long error stacks and can crash the process afterwards, so the run checks
the free space before each large write and stops cleanly instead."""

import errno
import os
import shutil

import numpy as np


class DiskFullError(OSError):
    """Not enough free space to write a file of the run."""

    def __init__(self, message):
        super().__init__(errno.ENOSPC, message)

    def __str__(self):
        return self.strerror


def megabytes(count):
    return f"{count / 2**20:.1f} MB"


def require_space(path, needed):
    """Raises DiskFullError unless the file system of ``path`` (a file to
    write) has ``needed`` bytes free, plus a margin."""
    folder = os.path.dirname(os.path.abspath(path))
    free = shutil.disk_usage(folder).free
    if free < needed * 1.1 + 2**16:
        raise DiskFullError(f"no space left on the device of '{folder}' to write "
                            f"'{os.path.basename(path)}': it needs about {megabytes(needed)}, "
                            f"{megabytes(free)} are free")


def variables_bytes(model):
    """Bytes of the model's weights and its optimizer's state: what a backup
    or a saved model holds, roughly."""
    variables = list(model.weights)
    if getattr(model, "optimizer", None) is not None:
        variables += list(model.optimizer.variables)
    return sum(np.dtype(v.dtype).itemsize * int(np.prod(v.shape)) for v in variables)


def is_disk_full(error):
    """Whether an exception (OSError, or HDF5's errors that carry the errno
    in their text) means that the device is full."""
    return (getattr(error, "errno", None) == errno.ENOSPC
            or "No space left on device" in str(error) or "errno = 28" in str(error))
