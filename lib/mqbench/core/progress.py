"""Live progress: notebooks say which phase runs and how far a long step is; ``mqbench run`` shows it.

In JupyterLab a long step draws a tqdm bar in the notebook. Under ``mqbench run`` the runner sets
``$MQBENCH_PROGRESS`` to a file in the run folder: the notebook's kernel then writes its current
phase and bar (done, total, rate, ETA) there instead of drawing (so executed notebooks stay clean),
and :class:`Monitor` in the runner reads it into the terminal's status line.

Where the state lives: one process shows one notebook's progress, so the current phase and bar are this
module's ``_state`` (and ``_last_write``, which throttles the file); where they go is ``$MQBENCH_PROGRESS``,
read on every write — the runner sets it in the kernel's environment, nothing else passes it around.
"""
from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from pathlib import Path

from tqdm import tqdm

ENV = "MQBENCH_PROGRESS"
_state: dict = {"phase": "", "bar": None}
_last_write = [0.0]


def _path() -> Path | None:
    value = os.environ.get(ENV)
    return Path(value) if value else None


def _write(force: bool = False) -> None:
    path = _path()
    now = time.monotonic()
    if path is None or (not force and now - _last_write[0] < 0.5):
        return
    _last_write[0] = now
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(_state))
        os.replace(tmp, path)
    except OSError:  # progress is a courtesy, never a failure
        pass


def phase(text: str) -> None:
    """The phase now running (``insert · natsmq``); shown by ``mqbench run``."""
    _state.update(phase=text, bar=None)
    _write(force=True)


class _Bar:
    """Counts progress of one step; draws a tqdm bar interactively, reports to the runner headless."""

    def __init__(self, total: int, desc: str, unit: str, initial: int, disable: bool):
        self.total, self.desc, self.unit, self.n = total, desc, unit, initial
        self.t0, self.initial = time.monotonic(), initial
        headless = _path() is not None
        self.tqdm = tqdm(total=total, initial=initial, desc=desc, unit=unit, mininterval=1.0, smoothing=0.1,
                         disable=disable or headless)

    def update(self, count: int) -> None:
        self.n += count
        self.tqdm.update(count)
        elapsed = time.monotonic() - self.t0
        rate = (self.n - self.initial) / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.n) / rate if rate > 0 else None
        _state["bar"] = {"desc": self.desc, "n": self.n, "total": self.total, "unit": self.unit,
                         "rate": rate, "eta_s": eta}
        _write()

    def close(self) -> None:
        self.tqdm.close()
        _state["bar"] = None
        _write(force=True)


@contextlib.contextmanager
def bar(total: int, desc: str, unit: str = "rows", initial: int = 0, disable: bool = False):
    b = _Bar(total, desc, unit, initial, disable)
    try:
        yield b
    finally:
        b.close()


def describe(state: dict) -> str:
    """One line for the terminal: ``insert · natsmq · 1.2M/3.0M rows · 45,000 rows/s · ETA 0:40``."""
    text = state.get("phase") or ""
    b = state.get("bar")
    if b:
        eta = f" · ETA {_clock(b['eta_s'])}" if b.get("eta_s") is not None else ""
        text += (f" · {_short(b['n'])}/{_short(b['total'])} {b['unit']} · {b['rate']:,.0f} {b['unit']}/s{eta}")
    return text


def _short(x: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.1f}{unit}"
    return f"{x:.0f}"


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"


class Monitor:
    """Polls a progress file in a thread and hands each new line to ``show``."""

    def __init__(self, path: Path, show, interval_s: float = 0.5):
        self.path, self.show, self.interval_s = Path(path), show, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mqbench-progress", daemon=True)

    def _loop(self) -> None:
        last = None
        while not self._stop.wait(self.interval_s):
            try:
                line = describe(json.loads(self.path.read_text()))
            except (OSError, ValueError):
                continue
            if line != last:
                self.show(line)
                last = line

    def __enter__(self) -> "Monitor":
        self.path.unlink(missing_ok=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.path.unlink(missing_ok=True)
