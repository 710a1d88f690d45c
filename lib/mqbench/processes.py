"""Child processes and ports: parent-death signal, free ports, stop (terminate, grace, kill)."""
from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys

from .errors import ServerError


def set_pdeathsig() -> None:
    """Die with the parent (Linux ``PR_SET_PDEATHSIG``); runs in a child between fork and exec, or first
    thing in a spawned worker."""
    if sys.platform == "linux":
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports that are free on all interfaces right now."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("", 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


def check_port_free(port: int, what: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
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
