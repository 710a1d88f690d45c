"""Child processes and ports: parent-death signal, free ports (never handed out twice at once in this process),
the ports a process listens on, stop (terminate, grace, kill)."""
from __future__ import annotations

import ctypes
import os
import random
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import psutil

from mqbench.core.errors import ServerError

_HANDED: set[int] = set()  # ports free_ports gave out in this process and nobody released yet
_HANDING = threading.Lock()


def set_pdeathsig() -> None:
    """Die with the parent (Linux ``PR_SET_PDEATHSIG``); runs in a child between fork and exec, or first
    thing in a spawned worker."""
    if sys.platform == "linux":
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


def _port_pool() -> range:
    """Ports to pick from: below the kernel's ephemeral range (where outgoing connections take their local
    ports, so a port picked there can be taken between the pick and the server's bind), or above it."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return range(max(low - 12000, 1024), low) if low - 1024 >= 4000 else range(high + 1, 65536)


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports, outside the ephemeral range, free on all interfaces right now and not handed out
    by an earlier call that nobody released (servers launched together bind later than they pick). Another
    process can still take one first: :meth:`mqbench.milvus.server.EmbeddedMilvus.ready` retries on new ones."""
    pool, picked = _port_pool(), []
    with _HANDING:
        for port in random.Random().sample(pool, min(len(pool), 40 * count)):
            if port in _HANDED:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind(("", port))
                except OSError:
                    continue
            picked.append(port)
            if len(picked) == count:
                _HANDED.update(picked)
                return picked
    raise ServerError(f"could not find {count} free ports in {pool.start}-{pool.stop - 1}")


def release_ports(ports) -> None:
    """Let :func:`free_ports` hand these out again (their server has stopped)."""
    with _HANDING:
        _HANDED.difference_update(ports)


def listening(pid: int) -> set[int]:
    """The TCP ports process ``pid`` listens on (empty once it has gone)."""
    try:
        return {c.laddr.port for c in psutil.Process(pid).net_connections("inet") if c.status == psutil.CONN_LISTEN}
    except psutil.Error:
        return set()


def check_port_free(port: int, what: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # as Go's listeners do: a port whose last server just died (connections in TIME_WAIT) is free, one a
        # server listens on is not
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("", int(port)))
        except OSError as exc:
            raise ServerError(f"port {port} ({what}) is already in use: {exc.strerror}") from None


def start(args: list[str], **kwargs) -> subprocess.Popen:
    """A child in its own process group that dies with this process."""
    return subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=set_pdeathsig if sys.platform == "linux" else None, **kwargs)


def stop(proc: subprocess.Popen, grace_s: float) -> str:
    """Terminate, wait ``grace_s``, then kill the process group. Returns how it ended."""
    if proc.poll() is not None:
        return f"exited({proc.returncode})"
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
        return "terminated"
    except subprocess.TimeoutExpired:
        kill(proc)
        return "killed"


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL the process group and reap the process."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)
