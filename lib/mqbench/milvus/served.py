"""A ``mqbench server`` seen from outside: the state file it keeps in its folder (its pid and how many times it has
started, never its password), and an in-place restart another process can ask for — what a deployment's restart
command (``mqbench restart <folder>``) is for two ``mqbench server`` processes measured by URI."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import psutil

from mqbench.core.errors import ServerError

STATE = Path("run") / "mqbench-server.json"


def write_state(server, starts: int) -> None:
    """Record, after each start, the serving process (this one) and the start count."""
    path = server.base_dir / STATE
    part = path.with_suffix(".part")
    part.write_text(json.dumps({"pid": os.getpid(), "starts": starts, "uri": server.uri, "metrics": server.metrics}))
    part.replace(path)


def clear_state(folder: Path) -> None:
    """The server has stopped: nobody may be signalled through its state any more."""
    (Path(folder) / STATE).unlink(missing_ok=True)


def read_state(folder: Path) -> dict:
    try:
        return json.loads((folder / STATE).read_text())
    except (OSError, ValueError):
        raise ServerError(f"{folder} has no running mqbench server (no {STATE})") from None


def restart(folder: Path, timeout_s: float = 600) -> float:
    """Ask the ``mqbench server`` of ``folder`` to restart (SIGHUP) and wait until it has started again; returns
    the seconds it took."""
    folder = Path(folder).resolve()
    before = read_state(folder)
    t0 = time.monotonic()
    try:
        if "server" not in psutil.Process(before["pid"]).cmdline():  # never signal a pid reused by another program
            raise psutil.NoSuchProcess(before["pid"])
        os.kill(before["pid"], signal.SIGHUP)
    except (ProcessLookupError, psutil.NoSuchProcess):
        raise ServerError(f"the mqbench server of {folder} (pid {before['pid']}) is not running") from None
    while time.monotonic() - t0 < timeout_s:
        time.sleep(0.2)
        if read_state(folder)["starts"] > before["starts"]:
            return time.monotonic() - t0
        try:
            os.kill(before["pid"], 0)
        except ProcessLookupError:
            raise ServerError(f"the mqbench server of {folder} exited while restarting") from None
    raise ServerError(f"the mqbench server of {folder} did not serve again within {timeout_s:.0f} s")
