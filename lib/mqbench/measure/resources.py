"""Resource accounting over a phase: server peak RSS and CPU seconds, client CPU, MQ bytes on disk."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import psutil

from mqbench.core.room import dir_bytes

MIB = 1024 * 1024


def cpu_s(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def client_cpu_s() -> float:
    """CPU seconds used so far by this process (children are counted by the workers themselves)."""
    return cpu_s(psutil.Process())


@dataclass
class Usage:
    wall_s: float
    server_cpu_s: float | None
    server_rss_peak_mib: float | None
    client_cpu_s: float
    mq_storage_bytes: int | None
    mq_storage_growth_bytes: int | None = None
    server_rss_mib: float | None = None  # at the end of the phase

    def as_row(self) -> dict:
        return {"duration_s": self.wall_s, "server_cpu_s": self.server_cpu_s,
                "server_rss_peak_mib": self.server_rss_peak_mib, "server_rss_mib": self.server_rss_mib,
                "client_cpu_s": self.client_cpu_s,
                "mq_storage_bytes": self.mq_storage_bytes, "mq_storage_growth_bytes": self.mq_storage_growth_bytes}


class Sampler:
    """Samples the server's RSS every ``interval_s`` in a thread between start() and stop().

    ``pid`` None (an external server) leaves the server columns empty instead of guessing.
    """

    def __init__(self, pid: int | None, store_dir=None, interval_s: float = 0.1):
        self.pid = pid
        self.proc: psutil.Process | None = None
        self.store_dir = store_dir
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._peak = self._last = 0
        self._server0 = 0.0
        self.error = ""

    def _sample(self) -> None:
        try:
            self._last = self.proc.memory_info().rss
            self._peak = max(self._peak, self._last)
        except psutil.Error:
            pass

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def start(self) -> "Sampler":
        """Begin the phase. A server process that cannot be read (gone already) leaves the server
        columns empty, with the reason in ``error``; nothing else is affected."""
        self._store0 = dir_bytes(self.store_dir)
        self._t0 = time.perf_counter()
        self._client0 = client_cpu_s()
        if self.pid:
            try:
                self.proc = psutil.Process(self.pid)
                self._server0 = cpu_s(self.proc)
                self._peak = self._last = self.proc.memory_info().rss
            except psutil.Error as exc:
                self.proc, self.error = None, f"server process {self.pid} unreadable: {type(exc).__name__}"
        if self.proc is not None:
            self._thread = threading.Thread(target=self._loop, name="mqbench-sampler", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> Usage:
        wall = time.perf_counter() - self._t0
        server_cpu = peak = last = None
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._sample()
            try:
                server_cpu = cpu_s(self.proc) - self._server0
            except psutil.Error:  # the server died during the phase
                server_cpu = None
            peak, last = self._peak / MIB, self._last / MIB
        stored = dir_bytes(self.store_dir)
        growth = stored - (self._store0 or 0) if stored is not None else None
        return Usage(wall_s=wall, server_cpu_s=server_cpu, server_rss_peak_mib=peak,
                     client_cpu_s=client_cpu_s() - self._client0, mq_storage_bytes=stored, mq_storage_growth_bytes=growth,
                     server_rss_mib=last)


def process_cpu_s(pid: int | None) -> float | None:
    """CPU seconds used so far by process ``pid`` (None if there is none or it is gone)."""
    try:
        return cpu_s(psutil.Process(pid)) if pid else None
    except psutil.Error:
        return None
