"""Where Fashion-MNIST's four IDX files are, and fetching them without root.

Looked up in order: ``$FASHION_MNIST_DIR``, the toolkit's cache
(``~/.cache/attention-guided/fashion-mnist``), and the Debian package's folder
(``/usr/share/datasets/fashion-mnist``). ``python -m common.data.fashion_mnist``
(``make fashion-mnist``) fills the cache from the Debian package
``dataset-fashion-mnist`` without installing it: ``apt-get download`` (or the
file from deb.debian.org when apt has no package lists) and ``dpkg-deb -x``.
"""

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request

PACKAGE = "dataset-fashion-mnist"
SYSTEM_DIR = "/usr/share/datasets/fashion-mnist"
POOL = "https://deb.debian.org/debian/pool/main/d/dataset-fashion-mnist/"
DEB_FILE = "dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb"  # Debian 11-13's
FILES = [f"{prefix}-{kind}-idx{n}-ubyte.gz" for prefix in ("train", "t10k")
         for kind, n in (("images", 3), ("labels", 1))]


def cache_dir():
    return os.path.join(os.path.expanduser("~"), ".cache", "attention-guided", "fashion-mnist")


def candidates():
    """(description, folder) in the order they are searched."""
    found = []
    if os.environ.get("FASHION_MNIST_DIR"):
        found.append(("$FASHION_MNIST_DIR", os.environ["FASHION_MNIST_DIR"]))
    return found + [("the cache", cache_dir()), ("the Debian package", SYSTEM_DIR)]


def complete(folder):
    return all(os.path.isfile(os.path.join(folder, name)) for name in FILES)


def locate():
    """The first folder holding all four files, or None."""
    return next((folder for _, folder in candidates() if complete(folder)), None)


def missing_message():
    """What is missing and the commands that provide it, in one line."""
    looked = ", ".join(f"{folder} ({what})" for what, folder in candidates())
    return (f"Fashion-MNIST not found: none of {looked} holds {FILES[0]} and the other three "
            "IDX files; run `make fashion-mnist` (python -m common.data.fashion_mnist, no root "
            f"needed), `apt-get install {PACKAGE}`, or set FASHION_MNIST_DIR")


def _download_deb(workdir):
    """The package file via apt-get download, else from the Debian pool."""
    done = subprocess.run(["apt-get", "download", PACKAGE], cwd=workdir, capture_output=True,
                          text=True) if shutil.which("apt-get") else None
    debs = glob.glob(os.path.join(workdir, "*.deb"))
    if done is not None and done.returncode == 0 and debs:
        return debs[0]
    target = os.path.join(workdir, DEB_FILE)
    urllib.request.urlretrieve(POOL + urllib.parse.quote(DEB_FILE), target)
    return target


def fetch(destination=None):
    """Unpacks the Debian package's four files into ``destination`` (the
    cache by default) and returns that folder; nothing is installed."""
    destination = destination or cache_dir()
    if complete(destination):
        return destination
    if not shutil.which("dpkg-deb"):
        raise OSError("dpkg-deb is needed to unpack the Debian package; or download the four "
                      f"files {FILES} into a folder and set FASHION_MNIST_DIR to it")
    with tempfile.TemporaryDirectory() as workdir:
        deb = _download_deb(workdir)
        subprocess.run(["dpkg-deb", "-x", deb, os.path.join(workdir, "x")], check=True)
        unpacked = os.path.join(workdir, "x", SYSTEM_DIR.lstrip("/"))
        os.makedirs(destination, exist_ok=True)
        for name in FILES:
            shutil.copyfile(os.path.join(unpacked, name), os.path.join(destination, name))
    return destination


def main():
    found = locate()
    if found:
        print(f"Fashion-MNIST: {found}")
        return found
    try:
        folder = fetch()
    except (OSError, subprocess.CalledProcessError) as error:
        print(f"fashion-mnist: error: {error}", file=sys.stderr)
        sys.exit(1)
    print(f"Fashion-MNIST: {folder} (from the Debian package {PACKAGE})")
    return folder


if __name__ == "__main__":
    main()
