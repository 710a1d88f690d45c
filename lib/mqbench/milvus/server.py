"""Milvus servers: an embedded Milvus 2.3.5 per run folder, or an external one by URI.

The embedded server is the real standalone binary shipped in the ``milvus`` wheel.
mqbench writes its ``milvus.yaml`` (free ports, MQ, overrides, authentication on),
starts it in its own process group with a parent-death signal, proves the MQ
from the server log and stops it (terminate, grace period, kill).
"""
from __future__ import annotations

import atexit
import json
import os
import re
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mqbench.core import mqs
from mqbench.core.errors import PortLostError, ServerError
from mqbench.core.paths import TOKEN_ENV
from mqbench.milvus import processes, versions
from mqbench.milvus.overrides import parse_overrides, set_dotted
from mqbench.milvus.processes import check_port_free, free_ports

DEFAULT_ROOT_PASSWORD = "Milvus"
_MQ_LINE = re.compile(r'\["try to init mq"\].*\[mqType=(\w+)\]')
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)(?:\(\w+\))?\s*(?::\s*([^}]*?))?\s*\}\}")
_LIVE: set["EmbeddedMilvus"] = set()


@dataclass
class Connection:
    """Where a client connects. The token is kept out of ``repr``."""

    uri: str
    mq: str
    token: str = field(default="", repr=False)
    external: bool = False

    def client(self, timeout: float | None = 60):
        """A :class:`mqbench.milvus.client.Client` on this server."""
        from mqbench.milvus.client import Client

        return Client(self.uri, self.token, timeout)


def external(uri: str, mq: str, token_env: str = TOKEN_ENV) -> Connection:
    """A Milvus already running at ``uri``; its token comes from ``token_env`` only."""
    if not re.match(r"^(https?|tcp|grpc)://", uri):
        raise ServerError(f"uri {uri!r} must start with http://, https://, tcp:// or grpc://")
    return Connection(uri=uri, mq=mq, token=os.environ.get(token_env, ""), external=True)


def check_mq(mq: str) -> str:
    """``mq`` as a plain string (an ``MQ`` member too), if the embedded server runs it."""
    if mq not in mqs.EMBEDDED:
        raise ServerError(f"unknown mq {mq!r}: choose one of {', '.join(mqs.EMBEDDED)}")
    return str(mq)


def render_config(values: dict[str, Any], version: str = "") -> dict:
    """Fill the ``config.yaml.template`` placeholders of release ``version``'s wheel and parse the YAML."""
    text = (versions.wheel_dir(version) / "data" / "config.yaml.template").read_text()

    def fill(match: re.Match) -> str:
        key, default = match.group(1), match.group(2)
        value = values.get(key, default)
        if value is None:
            raise ServerError(f"milvus.yaml template value {key!r} is not set")
        return str(value).lower() if isinstance(value, bool) else str(value)

    return yaml.safe_load(_PLACEHOLDER.sub(fill, text))


class EmbeddedMilvus:
    """One embedded Milvus standalone living in ``base_dir`` with MQ ``mq``, of release ``version`` ("" is the
    environment's own wheel; another is installed into the cache on first use: :mod:`mqbench.milvus.versions`).

    Use as a context manager, or call :meth:`start` / :meth:`stop`. Overrides are
    dotted ``milvus.yaml`` keys (``{"natsmq.server.retention.maxAge": 60}`` or
    ``["rocksmq.retentionTimeInMinutes=10"]``).
    """

    def __init__(self, mq: str, base_dir: str | Path, overrides=None,
                 start_timeout_s: float = 180, stop_grace_s: float = 30, password: str | None = None,
                 version: str = "", metrics_port: int = 0):
        self.mq = check_mq(mq)
        self.version = versions.check(version)
        self.base_dir = Path(base_dir).resolve()
        self.overrides = parse_overrides(overrides)
        if self.overrides.get("mq.type", mq) != mq:
            raise ServerError(f"override mq.type={self.overrides['mq.type']} contradicts mq={mq}; "
                                    "use the mq parameter")
        self.start_timeout_s = start_timeout_s
        self.stop_grace_s = stop_grace_s
        self.proc: subprocess.Popen | None = None
        self.stop_method: str | None = None
        self.ports: dict[str, int] = {}
        # set at first start and kept for restarts; given only to reopen a folder whose password is known
        self._password: str | None = password
        self._files: list = []
        self._log_marks: dict[Path, int] = {}
        self.metrics_port = metrics_port  # 0: a free one picked at each start
        self.start_retries = 0  # starts launched again after a lost port or a crash while starting (see ready)

    # -- paths -----------------------------------------------------------------
    @property
    def log_dir(self) -> Path:
        return self.base_dir / "logs"

    @property
    def mq_store_dirs(self) -> list[Path]:
        """The folders holding the MQ's data (the registry's ``store``: RocksMQ's RocksDB and its ``_meta_kv``
        store, or natsmq's storeDir)."""
        return [self.base_dir / "data" / name for name in mqs.SPECS[mqs.MQ(self.mq)].store]

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.ports['proxy']}"

    @property
    def metrics(self) -> str:
        """Its Prometheus endpoint."""
        return f"http://127.0.0.1:{self.ports['metrics']}/metrics"

    @property
    def connection(self) -> Connection:
        return Connection(uri=self.uri, mq=self.mq, token=f"root:{self._password}" if self._password else "")

    # -- configuration -----------------------------------------------------------
    def _config(self) -> dict:
        names = ["etcd", "etcd_peer", "proxy", "proxy_internal", "root_coord", "query_coord", "query_node",
                 "index_coord", "index_node", "data_coord", "data_node", "metrics", "natsmq"]
        self.ports = dict(zip(names, free_ports(len(names))))
        if self.metrics_port:
            check_port_free(self.metrics_port, "metrics")
            self.ports["metrics"] = int(self.metrics_port)
        data = self.base_dir / "data"
        values = {f"{name}_port": port for name, port in self.ports.items()}
        # embedded etcd listens on 2379/2380 unless given a config file of its own
        etcd_config = self.base_dir / "configs" / "embedEtcd.yaml"
        client, peer = (f"http://127.0.0.1:{self.ports[k]}" for k in ("etcd", "etcd_peer"))
        etcd_config.write_text(yaml.safe_dump({
            "listen-client-urls": client, "advertise-client-urls": client,
            "listen-peer-urls": peer, "initial-advertise-peer-urls": peer,
            "initial-cluster": f"default={peer}"}))
        values.update(
            etcd_log_path=self.log_dir / "etcd.log", etcd_data_dir=data / "etcd.data",
            local_storage_dir=data, rocksmq_data_dir=data / "rocksmq",
            system_log_path=self.log_dir, authorization_enabled=True, tls_mode=0,
        )
        config = render_config(values, self.version)
        set_dotted(config, "etcd.config.path", str(etcd_config))
        set_dotted(config, "mq.type", self.mq)
        set_dotted(config, "natsmq.server.port", self.ports["natsmq"])
        set_dotted(config, "natsmq.server.storeDir", str(data / "nats"))
        set_dotted(config, "natsmq.server.monitor.logFile", str(self.log_dir / "nats.log"))
        set_dotted(config, "common.gracefulStopTimeout", 10)  # s; then Milvus force-quits
        set_dotted(config, "log.stdout", False)
        for key, value in self.overrides.items():
            if key.lower().endswith("port"):
                check_port_free(value, key)
                if key == "proxy.port":
                    self.ports["proxy"] = int(value)
            set_dotted(config, key, value)
        return config

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> "EmbeddedMilvus":
        """Launch the server and wait until it is ready (see :meth:`launch` and :meth:`ready`)."""
        return self.launch().ready()

    def launch(self) -> "EmbeddedMilvus":
        """Write the config and start the process, without waiting. Call it from the thread that owns the
        server: the parent-death signal follows the thread that started the child."""
        if self.proc is not None:
            raise ServerError(f"server in {self.base_dir} is already running (pid {self.pid})")
        if self._password is None and (self.base_dir / "data" / "etcd.data").exists():
            raise ServerError(f"{self.base_dir} already holds a Milvus deployment whose root password "
                                    "mqbench does not know; start in an empty folder")
        for sub in ("configs", "logs", "data", "run"):
            (self.base_dir / sub).mkdir(parents=True, exist_ok=True)
        config = self._config()
        (self.base_dir / "configs" / "milvus.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        shutil.copy(versions.wheel_dir(self.version) / "data" / "glog.conf", self.base_dir / "configs" / "glog.conf")
        bin_dir = versions.binary_dir(self.version)
        env = dict(os.environ, DEPLOY_MODE="STANDALONE", METRICS_PORT=str(self.ports["metrics"]),
                   MILVUS_RUN_DIR=str(self.base_dir / "run"), MILVUSCONF=str(self.base_dir / "configs"),
                   LD_LIBRARY_PATH=f"{bin_dir}:{os.environ.get('LD_LIBRARY_PATH', '')}")
        env.pop(TOKEN_ENV, None)
        self._log_marks = {path: path.stat().st_size if path.exists() else 0
                           for path in (self.log_dir / name for name in ("milvus-stdout.log", "milvus-stderr.log",
                                                                        "nats.log", "etcd.log"))}
        self._files = [open(self.log_dir / f"milvus-{n}.log", "ab") for n in ("stdout", "stderr")]
        # a unique alias gives each server its own pid file under /run/milvus
        self.proc = processes.start(
            [str(bin_dir / "milvus"), "run", "standalone", "--alias", f"mqbench-{secrets.token_hex(6)}"],
            cwd=self.base_dir, env=env, stdout=self._files[0], stderr=self._files[1])
        _LIVE.add(self)
        return self

    def ready(self, attempts: int = 3) -> "EmbeddedMilvus":
        """Wait for ``/healthz``, prove the MQ from the log, set the random root password (first start only);
        stop the server if any of it fails. A start that lost one of its ports to another process between
        the pick and the bind ("address already in use" in this start's logs), or whose process died of a signal
        while starting (seen on a loaded 2-core host: an abort in gRPC's poller), is launched again on new ports,
        up to ``attempts`` times; a first start that died is retried on an empty folder."""
        for attempt in range(1, attempts + 1):
            try:
                self._wait_healthy()
                self._check_own_ports()
                self._verify_mq()
                if self._password is None:
                    self._set_root_password()
                return self
            except BaseException as exc:
                died = self.proc is not None and (self.proc.poll() or 0) < 0
                lost = isinstance(exc, PortLostError) or self._bind_failed()
                retry = isinstance(exc, ServerError) and (lost or died)
                self.stop()
                if not retry or attempt == attempts:
                    raise
                self.start_retries += 1
                if self._password is None:  # nothing was stored yet: start again from an empty folder
                    shutil.rmtree(self.base_dir / "data", ignore_errors=True)
                self.launch()
        return self

    def _check_own_ports(self) -> None:
        """Fail (a lost port: retried) unless this process listens on the ports mqbench talks to. A port another
        process bound first makes ``/healthz`` or a client call reach that process instead: seen as a gRPC
        UNIMPLEMENTED when four servers started at once."""
        held = processes.listening(self.proc.pid)
        lost = {name: self.ports[name] for name in ("proxy", "metrics", "etcd") if self.ports[name] not in held}
        if lost:
            raise PortLostError(f"milvus ({self.mq}) does not hold its ports {lost}: another process bound them first")

    def _bind_failed(self) -> bool:
        """Whether this start's log lines (those written since :meth:`launch`) report a port already in use."""
        for path, mark in self._log_marks.items():
            if path.exists():
                with open(path, "rb") as fh:
                    fh.seek(mark)
                    if b"address already in use" in fh.read():
                        return True
        return False

    def _wait_healthy(self) -> None:
        url = f"http://127.0.0.1:{self.ports['metrics']}/healthz"
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(
                    f"milvus ({self.mq}) exited with code {self.proc.returncode} during start; "
                    f"log tail:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if b"OK" in resp.read():
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise ServerError(f"milvus ({self.mq}) not healthy after {self.start_timeout_s:.0f} s; "
                                f"log tail:\n{self.log_tail()}")

    def mq_from_log(self) -> str | None:
        """The MQ the server last said it initialised (``["try to init mq"] ... [mqType=X]``)."""
        seen = None
        with open(self.log_dir / "milvus-stdout.log", errors="replace") as fh:
            for line in fh:
                match = _MQ_LINE.search(line)
                if match:
                    seen = match.group(1)
        return seen

    def _verify_mq(self) -> None:
        seen = self.mq_from_log()  # this start appended its line to the end of the log
        if seen != self.mq:
            raise ServerError(f"asked for mq={self.mq} but the server log says mqType={seen}")

    def _set_root_password(self) -> None:
        self._password = DEFAULT_ROOT_PASSWORD
        try:
            self.set_password(secrets.token_urlsafe(24))
        except BaseException:
            self._password = None  # still the default: a retried start sets it
            raise

    def set_password(self, password: str) -> None:
        """Change the running server's root password (kept for its restarts)."""
        with Connection(self.uri, self.mq, f"root:{self._password}").client() as client:
            client.update_password("root", self._password, password)
        self._password = password

    def stop(self) -> str | None:
        """Terminate, wait ``stop_grace_s``, then kill. Returns how it stopped."""
        if self.proc is None:
            return self.stop_method
        self.stop_method = processes.stop(self.proc, self.stop_grace_s)
        self._release()
        return self.stop_method

    def kill(self, release_sessions: bool = False) -> str:
        """SIGKILL the server (no graceful stop: what a crash or a throwaway server gets). With
        ``release_sessions`` its etcd session keys are deleted first (:meth:`drop_sessions`): the next start on this folder (or a copy of
        it) then finds no live sessions of its own, instead of waiting out their TTL (``common.session.ttl``,
        30 s: measured 56 s to serve again after a plain kill, 3.6 s after releasing them)."""
        if self.proc is not None:
            method = "killed"
            if release_sessions and self.running:
                self.drop_sessions()
                method = "killed (sessions released)"
            processes.kill(self.proc)
            self.stop_method = method
            self._release()
        return self.stop_method

    def drop_sessions(self) -> int:
        """Delete every key held by a lease of the embedded etcd — Milvus's session registrations — in one etcd
        transaction, through etcd's HTTP gateway on loopback; returns how many. One transaction, because a Milvus
        that sees one of its sessions go exits at once and would leave the others to wait out. It cannot serve
        afterwards: kill it next."""
        def post(path: str, body: dict) -> dict:
            request = urllib.request.Request(f"http://127.0.0.1:{self.ports['etcd']}/v3/{path}",
                                             json.dumps(body).encode(), {"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())

        try:
            keys = [key for lease in post("lease/leases", {}).get("leases", [])
                    for key in post("lease/timetolive", {"ID": lease["ID"], "keys": True}).get("keys", [])]
            if keys:
                post("kv/txn", {"success": [{"requestDeleteRange": {"key": key}} for key in keys]})
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return 0  # etcd is not answering: the next start waits out the sessions' TTL
        return len(keys)

    def restart(self, mq: str | None = None, overrides=None) -> "EmbeddedMilvus":
        """Start again on the same folder (after :meth:`stop` or :meth:`kill`), optionally with another
        MQ and more overrides — checked as the constructor checks them."""
        if self.proc is not None:
            raise ServerError(f"server in {self.base_dir} is running (pid {self.pid}); stop or kill it first")
        mq = check_mq(mq or self.mq)
        merged = {**{k: v for k, v in self.overrides.items() if k != "mq.type"}, **parse_overrides(overrides)}
        if merged.get("mq.type", mq) != mq:
            raise ServerError(f"override mq.type={merged['mq.type']} contradicts mq={mq}; use the mq parameter")
        self.mq, self.overrides = mq, merged
        return self.start()

    def _release(self) -> None:
        for fh in self._files:
            fh.close()
        self._files = []
        self.proc = None
        processes.release_ports(self.ports.values())
        _LIVE.discard(self)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def started(self) -> bool:
        """Launched and not yet stopped (it may have died since: see :attr:`running`)."""
        return self.proc is not None

    def log_tail(self, lines: int = 20) -> str:
        out = []
        for path in (self.log_dir / "milvus.log", self.log_dir / "milvus-stderr.log"):
            if path.exists():
                out += path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(out[-lines:])

    def __enter__(self) -> "EmbeddedMilvus":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmbeddedMilvus(mq={self.mq!r}, version={self.version!r}, base_dir='{self.base_dir}', pid={self.pid})"


@atexit.register
def _stop_all() -> None:
    for server in list(_LIVE):
        server.stop()


def milvus_processes() -> dict[int, Path]:
    """PID -> working folder of every Milvus standalone process on this machine."""
    import psutil

    return {proc.info["pid"]: Path(proc.info["cwd"]) for proc in psutil.process_iter(["pid", "cmdline", "cwd"])
            if (proc.info["cmdline"] or [])[1:3] == ["run", "standalone"] and proc.info["cwd"]}


def running_in(folder: str | Path) -> int | None:
    """PID of a Milvus process working in ``folder``, if one is running."""
    folder = Path(folder).resolve()
    return next((pid for pid, cwd in milvus_processes().items() if cwd == folder), None)

