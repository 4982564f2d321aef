"""Where pretrained weights live on disk, and fetching a published file."""

import hashlib
import os


def weights_dir():
    """``$ATTENTION_WEIGHTS_DIR`` or ``~/.cache/attention-guided/weights``."""
    return os.environ.get("ATTENTION_WEIGHTS_DIR", os.path.join(
        os.path.expanduser("~"), ".cache", "attention-guided", "weights"))


def sha256_prefix(path, length=8):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:length]


def fetch(url, filename, sha256_start, what):
    """Path of ``filename`` in ``weights_dir()``, downloaded from ``url`` with
    ``keras.utils.get_file`` if it is not there yet; its SHA-256 must start
    with ``sha256_start`` (torchvision's naming). Offline: one error saying
    which file to fetch and where to put it."""
    folder = weights_dir()
    target = os.path.join(folder, filename)
    if not os.path.isfile(target):
        import keras
        try:
            keras.utils.get_file(filename, url, cache_dir=folder, cache_subdir=".")
        except Exception as error:  # keras raises a bare Exception for URL errors
            raise FileNotFoundError(
                f"{what}: could not download {url} ({str(error).strip()}); fetch that file "
                f"and put it at {target}, or pass its path as the weights (--weights)") from None
    if sha256_prefix(target) != sha256_start:
        raise ValueError(f"{what}: '{target}' is not the published file (its SHA-256 does "
                         f"not start with {sha256_start}); delete it and fetch {url} again")
    return target
