"""Resource accounting over a phase: server peak RSS and CPU seconds, client CPU, MQ bytes on disk."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import psutil

from mqbench.core.room import dir_bytes
from mqbench.measure.milvus_series import fetch

MIB = 1024 * 1024
_PROCESS = ("process_cpu_seconds_total", "process_resident_memory_bytes")


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

    The server is process ``pid`` of this machine, or (a deployment) the Milvus process behind the Prometheus
    endpoint ``metrics`` (its process collector's CPU seconds and RSS, sampled every ``metrics_interval_s``).
    Neither (an external server without an endpoint) leaves the server columns empty instead of guessing.
    """

    def __init__(self, pid: int | None, store_dir=None, interval_s: float = 0.1, metrics: str = "",
                 metrics_interval_s: float = 0.25):
        self.pid = pid
        self.metrics = "" if pid else metrics
        self.proc: psutil.Process | None = None
        self.store_dir = store_dir
        self.interval_s = metrics_interval_s if self.metrics else interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._peak = self._last = 0
        self._server0 = 0.0
        self.error = ""

    def _read(self) -> tuple[float, int]:
        """(CPU seconds so far, RSS bytes) of the server; raises psutil.Error / OSError when unreadable."""
        if self.metrics:
            figures = process_figures(self.metrics)
            if figures is None:
                raise OSError(f"{self.metrics} gave no process figures")
            return figures
        return cpu_s(self.proc), self.proc.memory_info().rss

    def _sample(self) -> None:
        try:
            self._last = self._read()[1]
            self._peak = max(self._peak, self._last)
        except (psutil.Error, OSError):
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
        if self.pid or self.metrics:
            try:
                self.proc = psutil.Process(self.pid) if self.pid else None
                self._server0, self._peak = self._read()
                self._last = self._peak
                self._thread = threading.Thread(target=self._loop, name="mqbench-sampler", daemon=True)
                self._thread.start()
            except (psutil.Error, OSError) as exc:
                self.proc, self.error = None, f"server {self.pid or self.metrics} unreadable: {type(exc).__name__}"
        return self

    def stop(self) -> Usage:
        wall = time.perf_counter() - self._t0
        server_cpu = peak = last = None
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            try:
                cpu, self._last = self._read()
                self._peak = max(self._peak, self._last)
                server_cpu = cpu - self._server0
            except (psutil.Error, OSError):  # the server died during the phase
                server_cpu = None
            peak, last = self._peak / MIB, self._last / MIB
        stored = dir_bytes(self.store_dir)
        growth = stored - (self._store0 or 0) if stored is not None else None
        return Usage(wall_s=wall, server_cpu_s=server_cpu, server_rss_peak_mib=peak,
                     client_cpu_s=client_cpu_s() - self._client0, mq_storage_bytes=stored, mq_storage_growth_bytes=growth,
                     server_rss_mib=last)


def process_figures(url: str, timeout_s: float = 5) -> tuple[float, int] | None:
    """(CPU seconds, RSS bytes) of the process serving Prometheus text at ``url`` (its Go process collector's
    ``process_cpu_seconds_total`` and ``process_resident_memory_bytes``), or None if it does not answer."""
    lines = [line for line in fetch(url, timeout_s).splitlines() if line.startswith(_PROCESS)]
    values = {name: float(value) for name, value in (line.split(" ", 1) for line in lines)}
    if set(_PROCESS) - set(values):
        return None
    return values[_PROCESS[0]], int(values[_PROCESS[1]])


def server_cpu_s(server) -> float | None:
    """CPU seconds used so far by a running server: its process here, else its Prometheus endpoint's figure."""
    if server is None or not server.running:
        return None
    if server.pid:
        return process_cpu_s(server.pid)
    figures = process_figures(server.metrics) if server.metrics else None
    return figures[0] if figures else None


def process_cpu_s(pid: int | None) -> float | None:
    """CPU seconds used so far by process ``pid`` (None if there is none or it is gone)."""
    try:
        return cpu_s(psutil.Process(pid)) if pid else None
    except psutil.Error:
        return None
