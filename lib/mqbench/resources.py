"""Resource accounting over a phase: server peak RSS and CPU seconds, client CPU, MQ bytes on disk."""
from __future__ import annotations

import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

MIB = 1024 * 1024


def dir_bytes(path: str | Path | None) -> int | None:
    """Bytes allocated on disk under ``path`` (like ``du``); None if it does not exist."""
    if path is None or not Path(path).exists():
        return None
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:  # a segment or log rolled away while we walked
                pass
    return total


class StorageError(RuntimeError):
    """Not enough disk for a phase, or an MQ store over the limit it was given."""


def check_disk(path: str | Path, need_bytes: float, what: str) -> None:
    """Refuse to start ``what`` if the file system of ``path`` has less than ``need_bytes`` free."""
    free = shutil.disk_usage(Path(path)).free
    if free < need_bytes:
        raise StorageError(f"{what} needs about {need_bytes / 1e9:.2f} GB at {path} but only "
                           f"{free / 1e9:.2f} GB is free")


def _cpu_s(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def client_cpu_s() -> float:
    """CPU seconds used so far by this process (children are counted by the workers themselves)."""
    return _cpu_s(psutil.Process())


@dataclass
class Usage:
    wall_s: float
    server_cpu_s: float | None
    server_rss_peak_mb: float | None
    client_cpu_s: float
    mq_storage_bytes: int | None

    def as_row(self) -> dict:
        return {"duration_s": self.wall_s, "server_cpu_s": self.server_cpu_s,
                "server_rss_peak_mb": self.server_rss_peak_mb, "client_cpu_s": self.client_cpu_s,
                "mq_storage_bytes": self.mq_storage_bytes}


class Sampler:
    """Samples the server's RSS every ``interval_s`` in a thread between start() and stop().

    ``pid`` None (an external server) leaves the server columns empty instead of guessing.
    """

    def __init__(self, pid: int | None, store_dir: str | Path | None = None, interval_s: float = 0.1):
        self.proc = psutil.Process(pid) if pid else None
        self.store_dir = store_dir
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._peak = 0

    def _sample(self) -> None:
        try:
            self._peak = max(self._peak, self.proc.memory_info().rss)
        except psutil.Error:
            pass

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def start(self) -> "Sampler":
        self._t0 = time.perf_counter()
        self._client0 = client_cpu_s()
        self._server0 = None
        if self.proc:
            try:
                self._server0 = _cpu_s(self.proc)
                self._sample()
            except psutil.Error:
                self.proc = None
            self._thread = threading.Thread(target=self._loop, name="mqbench-sampler", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> Usage:
        wall = time.perf_counter() - self._t0
        server_cpu = peak = None
        if self._thread:
            self._stop.set()
            self._thread.join()
            self._sample()
            try:
                server_cpu = _cpu_s(self.proc) - self._server0
            except psutil.Error:  # the server died during the phase
                server_cpu = None
            peak = self._peak / MIB
        return Usage(wall_s=wall, server_cpu_s=server_cpu, server_rss_peak_mb=peak,
                     client_cpu_s=client_cpu_s() - self._client0,
                     mq_storage_bytes=dir_bytes(self.store_dir))
