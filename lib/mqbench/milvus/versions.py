"""Embedded Milvus releases side by side: the ``milvus`` wheel of the environment, or another release of it from
the package index, installed on first use into a cache folder (``$MQBENCH_CACHE``, default
``~/.cache/mqbench``) and never into the environment. Each release's binaries are unpacked once per user, beside
it in the cache; a lock keeps two processes from doing either at once."""
from __future__ import annotations

import fcntl
import hashlib
import lzma
import os
import subprocess
import sys
from pathlib import Path

from mqbench.core.errors import ServerError

RELEASES = ("2.3.0", "2.3.1", "2.3.2", "2.3.3", "2.3.4", "2.3.5")  # Linux wheels of embedded Milvus on the index


def cache() -> Path:
    return Path(os.environ.get("MQBENCH_CACHE", Path.home() / ".cache" / "mqbench"))


def installed() -> str:
    """The release of the environment's own ``milvus`` wheel."""
    import milvus

    return milvus.__version__


def check(version: str) -> str:
    """``version`` if it names a release mqbench can run ("" is the environment's own), else a one-line error."""
    if version and version not in RELEASES:
        raise ServerError(f"milvus version {version!r} is not an embedded release: choose one of "
                          f"{', '.join(RELEASES)}")
    return version or installed()


class _Locked:
    """An exclusive lock on ``folder/.lock`` (the folder is made)."""

    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / ".lock"

    def __enter__(self):
        self.file = open(self.path, "w")
        fcntl.flock(self.file, fcntl.LOCK_EX)

    def __exit__(self, *exc):
        self.file.close()


def wheel_dir(version: str = "") -> Path:
    """The ``milvus`` package folder of ``version`` (its config template, glog.conf and packed binaries): the
    environment's own, or the cache's copy, installed from the package index first if it is not there."""
    version = check(version)
    if version == installed():
        import milvus

        return Path(milvus.__file__).parent
    target = cache() / "wheels" / f"milvus-{version}"
    package = target / "milvus"
    with _Locked(target.parent):
        if not (package / "data" / "config.yaml.template").exists():
            done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile",
                                   "--target", str(target), f"milvus=={version}"], capture_output=True, text=True)
            if done.returncode != 0:
                lines = [line for line in done.stderr.splitlines() if line.strip()]
                raise ServerError(f"could not install milvus=={version} into {target}: "
                                  f"{lines[-1] if lines else f'pip exited {done.returncode}'}")
    return package


def binary_dir(version: str = "") -> Path:
    """The folder of ``version``'s unpacked binaries (``milvus`` and its libraries), unpacked from the wheel's
    ``.lzma`` files where a file's stamp (the md5 of its packed form) is missing or stale."""
    version = check(version)
    packed = wheel_dir(version) / "data" / "bin"
    base = cache() / f"milvus-{version}"
    out = base / "bin"
    with _Locked(base):
        out.mkdir(parents=True, exist_ok=True)
        for source in sorted(packed.glob("*.lzma")):
            target = out / source.name[: -len(".lzma")]
            stamp = out / f"{target.name}.lzma.md5"
            digest = hashlib.md5(source.read_bytes()).hexdigest()
            if target.exists() and stamp.exists() and stamp.read_text().strip() == digest:
                continue
            with lzma.open(source) as unpacked:
                target.write_bytes(unpacked.read())
            target.chmod(0o755)
            stamp.write_text(digest)
    return out

