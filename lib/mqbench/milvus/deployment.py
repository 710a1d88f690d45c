"""A Milvus someone else runs — a cluster on Pulsar, Kafka or Woodpecker, a container, a ``mqbench server`` —
reached by URI, with the session interface of :class:`~mqbench.milvus.server.EmbeddedMilvus`.

mqbench never stops a deployment. Its optional ``restart`` command (``docker restart milvus-a``, ``kubectl rollout
restart deploy/milvus && kubectl rollout status deploy/milvus``, ``mqbench restart <folder>``) is run where the
session would start an embedded server again, and must return once the old server is gone; mqbench then waits
until the URI serves. With a restart command the start is the unit of run-time verdicts, as for embedded servers;
without one every block is measured on one start of each deployment.

Its token comes from the environment variable it names, only. The server's CPU and memory come from its
Prometheus endpoint (``metrics``: ``process_cpu_seconds_total`` and ``process_resident_memory_bytes``, the
Go process collector of the Milvus process behind it) when one is given; else those columns stay empty.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from mqbench.core.errors import ServerError
from mqbench.milvus.server import Connection

URI = re.compile(r"^(https?|tcp|grpc)://")


def check_uri(uri: str) -> str:
    if not isinstance(uri, str) or not URI.match(uri):
        raise ServerError(f"uri {uri!r} must start with http://, https://, tcp:// or grpc://")
    return uri


class Deployment:
    """The deployment at ``uri`` running MQ ``mq`` (as its owner states it), its token in ``token_env``."""

    def __init__(self, uri: str, token_env: str, mq: str, restart: str = "", metrics: str = "",
                 ready_timeout_s: float = 600, restart_timeout_s: float = 900):
        self.uri = check_uri(uri)
        self.token_env = token_env
        self.mq = str(mq)
        self.restart_command = restart
        self.metrics = metrics  # ``http://host:port/metrics``, or ""
        self.ready_timeout_s = ready_timeout_s
        self.restart_timeout_s = restart_timeout_s
        self.version = ""  # as the server reports it, once ready
        self.overrides: dict = {}
        self.mq_store_dirs: list[Path] = []  # not on this machine's disk
        self.start_retries = 0
        self.restarts = 0
        self.stop_method: str | None = None
        self.up = False
        self._served = False  # answered once: the next launch restarts it
        self._restarting: subprocess.Popen | None = None

    @property
    def token(self) -> str:
        token = os.environ.get(self.token_env)
        if token is None:
            raise ServerError(f"deployment {self.uri}: its token variable {self.token_env} is not set")
        return token

    @property
    def connection(self) -> Connection:
        return Connection(uri=self.uri, mq=self.mq, token=self.token, external=True)

    @property
    def running(self) -> bool:
        return self.up

    @property
    def started(self) -> bool:
        return self.up

    pid = None  # not a process of this machine's that mqbench owns
    base_dir = None  # nor a folder of it

    # -- lifecycle ---------------------------------------------------------------
    def launch(self) -> "Deployment":
        """Begin the restart command if the deployment served before (else nothing: it is already up); like an
        embedded server's launch it does not wait (:meth:`ready` does), so a pair's restarts overlap."""
        if self._served and self.restart_command:
            env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
            self._restarting = subprocess.Popen(self.restart_command, shell=True, env=env, stdin=subprocess.DEVNULL,
                                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                                start_new_session=True)
        return self

    def _restarted(self) -> None:
        """Wait for the restart command begun by :meth:`launch`, if any."""
        proc, self._restarting = self._restarting, None
        if proc is None:
            return
        try:
            output, _ = proc.communicate(timeout=self.restart_timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise ServerError(f"restart of {self.uri} did not return within {self.restart_timeout_s:.0f} s: "
                              f"{self.restart_command}") from None
        if proc.returncode:
            raise ServerError(f"restart of {self.uri} failed with exit code {proc.returncode}: "
                              f"{self.restart_command}\n{output[-800:]}")
        self.restarts += 1

    def ready(self) -> "Deployment":
        """Wait for the restart command, then until the URI answers an authenticated call; read the version."""
        self._restarted()
        deadline, last = time.monotonic() + self.ready_timeout_s, None
        while time.monotonic() < deadline:
            try:
                with self.connection.client(timeout=10) as client:
                    client.list_collections()
                    self.version = client.server_version()
                self.up = self._served = True
                return self
            except ServerError:
                raise
            except Exception as exc:  # noqa: BLE001 (pymilvus raises many kinds while a server comes up)
                last = exc
                time.sleep(0.5)
        raise ServerError(f"deployment {self.uri} did not answer within {self.ready_timeout_s:.0f} s "
                          f"(last: {type(last).__name__}: {last})")

    def start(self) -> "Deployment":
        return self.launch().ready()

    def stop(self) -> str:
        """Nothing is stopped: the deployment is its owner's. It counts as down until :meth:`launch`."""
        self.up = False
        self.stop_method = "left running"
        return self.stop_method

    def kill(self, release_sessions: bool = False) -> str:
        return self.stop()

    def log_tail(self, lines: int = 20) -> str:
        return ""  # its logs are its owner's

    def __repr__(self) -> str:
        return f"Deployment(uri={self.uri!r}, mq={self.mq!r}, restart={bool(self.restart_command)})"


def probe(uri: str, token_env: str, timeout_s: float = 10) -> None:
    """Fail with one line if the deployment's token is unset or its URI does not answer (checked before a run)."""
    connection = Deployment(uri, token_env, "").connection  # an unset token fails here, before any call
    try:
        with connection.client(timeout=timeout_s) as client:
            client.list_collections()
    except Exception as exc:  # noqa: BLE001
        raise ServerError(f"deployment {uri} does not answer: {type(exc).__name__}: "
                          f"{str(exc).splitlines()[0][:200] if str(exc) else ''}") from None
