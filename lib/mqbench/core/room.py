"""Room on the host: bytes a folder takes on disk, and refusing to start what the disk or memory cannot hold."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import psutil

from mqbench.core.errors import StorageError


def dir_bytes(paths) -> int | None:
    """Bytes allocated on disk under ``paths`` (one folder or several; like ``du``); None if none exists."""
    if paths is None:
        return None
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    if not any(p.exists() for p in paths):
        return None
    total = 0
    for path in paths:
        for root, _dirs, files in os.walk(path):
            for name in files:
                try:
                    total += os.lstat(os.path.join(root, name)).st_blocks * 512
                except FileNotFoundError:  # a segment or log rolled away while we walked
                    pass
    return total


def check_memory(need_bytes: float, what: str) -> None:
    """Refuse to start ``what`` if the host has less than ``need_bytes`` of memory available."""
    available = psutil.virtual_memory().available
    if available < need_bytes:
        raise StorageError(f"{what} needs about {need_bytes / 2**30:.1f} GiB of memory but only "
                           f"{available / 2**30:.1f} GiB is available")


def check_disk(path: str | Path, need_bytes: float, what: str) -> None:
    """Refuse to start ``what`` if the file system of ``path`` has less than ``need_bytes`` free."""
    free = shutil.disk_usage(Path(path)).free
    if free < need_bytes:
        raise StorageError(f"{what} needs about {need_bytes / 1e9:.2f} GB at {path} but only "
                           f"{free / 1e9:.2f} GB is free")
