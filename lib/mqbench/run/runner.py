"""Headless runs: papermill executes notebooks over a grid (notebook × parameters × repeats).

Cells that cannot run side by side are interleaved: within each repeat (a block) the grid's
combinations run in an order from a Williams design with a seed (:mod:`mqbench.stats.design`), never
A A B B, and the manifest records the order and its seed. While a cell runs, its kernel reports the
phase and any long step's progress (:mod:`mqbench.core.progress`) to the terminal's status line.
"""
from __future__ import annotations

import atexit
import datetime as dt
import functools
import itertools
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import papermill as pm
import yaml
from jupyter_client.manager import AsyncKernelManager
from tqdm import tqdm

from mqbench.core import checks, progress, results
from mqbench.core.errors import GridError, ParameterError
from mqbench.core.paths import NOTEBOOKS, PROJECT_ROOT
from mqbench.core.results import column_value
from mqbench.run import parameters
from mqbench.stats import design

INJECTED = ("run_dir", "repeat")  # set by the runner, declared by every notebook
COMPLETED = "completed.json"
GRID_KEYS = {"notebooks", "repeats", "order_seed"}
WARMUP_REPEAT = -1  # a grid entry's warm-up cell (``warmup: true``): recorded, never a unit of a verdict


@dataclass
class Cell:
    notebook: Path
    params: dict
    swept: tuple = ()  # the grid axes, shown in file names

    @property
    def name(self) -> str:
        return self.notebook.stem

    @property
    def executed_name(self) -> str:
        return results.cell_tag(self.name, self.params, shown=(*self.swept, "repeat")) + ".ipynb"

    @property
    def label(self) -> str:
        shown = " ".join(f"{self.params[k]}" for k in self.swept if k in self.params)
        shown = shown if len(shown) <= 40 else shown[:39] + "…"  # leave the progress line room for the phase
        return f"{self.name} {shown} r{self.params.get('repeat', 0)}".replace("  ", " ")


def declared_parameters(notebook: Path) -> dict:
    """Names and defaults of the notebook's ``parameters`` cell."""
    if not notebook.exists():
        raise GridError(f"notebook {notebook} does not exist")
    return {name: spec["default"] for name, spec in pm.inspect_notebook(str(notebook)).items()}


def check_parameters(notebook: Path, params: dict) -> None:
    """The cell's values against the notebook's ``parameters`` cell: every name declared there, each of the
    type of its literal, and the names the runner injects declared."""
    declared = parameters.defaults(notebook)
    unknown = [name for name in params if name not in declared]
    if unknown:
        raise GridError(f"{notebook.name} has no parameter {unknown[0]!r} "
                        f"(it declares: {', '.join(sorted(declared))})")
    missing = [name for name in INJECTED if name not in declared]
    if missing:
        raise GridError(f"{notebook.name} must declare parameter {missing[0]!r} for headless runs")
    try:
        checks.typed(declared, params)
    except ParameterError as exc:
        raise GridError(f"{notebook.name}: {exc}") from None


def parse_cli_params(pairs: list[list[str]] | None) -> dict:
    """``-p name value`` pairs; values are YAML (``20000`` is an int, ``[1, 2]`` a list)."""
    return {name: yaml.safe_load(value) for name, value in (pairs or [])}


def _entry_cells(entry: dict, default_repeats, base: Path, seed: int) -> list[Cell]:
    unknown_keys = set(entry) - {"notebook", "parameters", "grid", "repeats", "warmup"}
    if "notebook" not in entry or unknown_keys:
        raise GridError(f"grid entry {entry!r} needs 'notebook' and may have only 'parameters', 'grid', 'repeats' "
                        "and 'warmup'")
    if not isinstance(entry.get("warmup", False), bool):
        raise GridError(f"grid 'warmup' must be true or false, got {entry['warmup']!r}")
    repeats = entry.get("repeats", default_repeats)
    if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 1:
        raise GridError(f"grid 'repeats' must be a positive integer, got {repeats!r}")
    notebook = (base / entry["notebook"]).resolve()
    fixed, axes = entry.get("parameters") or {}, entry.get("grid") or {}
    for name, values in axes.items():
        if not isinstance(values, list) or not values:
            raise GridError(f"grid axis {name!r} of {notebook.name} must be a non-empty list")
    combos = [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]
    cells = []
    for repeat, order in enumerate(design.block_orders(repeats, len(combos), seed)):
        for i in order:
            params = {**fixed, **combos[i], "repeat": repeat}
            check_parameters(notebook, params)
            cells.append(Cell(notebook, params, tuple(axes)))
    if entry.get("warmup"):  # the host's first build runs cold: a copy of the first cell, recorded as repeat -1
        cells.insert(0, Cell(notebook, {**cells[0].params, "repeat": WARMUP_REPEAT}, cells[0].swept))
    return cells


def expand_grid(grid: dict, base: Path) -> list[Cell]:
    """``notebooks: [{notebook, parameters, grid, repeats}]``, a default ``repeats`` and an ``order_seed`` →
    one Cell per combination and repeat, each repeat's combinations in a balanced seeded order."""
    if not isinstance(grid, dict) or not isinstance(grid.get("notebooks"), list):
        raise GridError("grid must be a mapping with a 'notebooks' list")
    unknown = set(grid) - GRID_KEYS
    if unknown:
        raise GridError(f"grid has unknown key(s) {sorted(unknown)}; it may have {', '.join(sorted(GRID_KEYS))}")
    seed = grid.get("order_seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise GridError(f"grid 'order_seed' must be an integer, got {seed!r}")
    return [cell for i, entry in enumerate(grid["notebooks"])
            for cell in _entry_cells(entry, grid.get("repeats", 1), base, seed + i)]


def select(cells: list[Cell], only: list[str] | None) -> list[Cell]:
    """The cells whose parameters match every ``KEY=VALUE`` of ``only`` (values are YAML)."""
    wanted = {}
    for item in only or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise GridError(f"--only {item!r} is not of the form KEY=VALUE")
        wanted[key] = yaml.safe_load(value)
    chosen = [c for c in cells if all(c.params.get(k) == v for k, v in wanted.items())]
    if wanted and not chosen:
        raise GridError(f"no cell of the grid matches --only {' '.join(only)}")
    return chosen


def load_grid(path: str | Path) -> tuple[dict, list[Cell]]:
    path = Path(path)
    if not path.exists():
        raise GridError(f"grid file {path} does not exist")
    grid = yaml.safe_load(path.read_text())
    return grid, expand_grid(grid, PROJECT_ROOT)


def notebook_path(notebook: str | Path) -> Path:
    """``notebook`` as given if it exists, else the notebook of that name under ``notebooks/`` (``.ipynb`` optional)."""
    given = Path(notebook)
    if given.exists():
        return given.resolve()
    for candidate in (NOTEBOOKS / given.name, NOTEBOOKS / f"{given.name}.ipynb"):
        if candidate.exists():
            return candidate
    raise GridError(f"notebook {notebook} does not exist (nor under {NOTEBOOKS}: "
                    f"{', '.join(sorted(p.stem for p in NOTEBOOKS.glob('*.ipynb')))})")


def cell_parameters(cell: Cell) -> dict:
    """The parameters a cell's notebook will run with: its ``parameters`` cell, then the cell's own."""
    return {**parameters.defaults(cell.notebook), **cell.params}


def single_cell(notebook: str | Path, params: dict) -> list[Cell]:
    path = notebook_path(notebook)
    params = {**params}
    params.setdefault("repeat", 0)
    check_parameters(path, params)
    return [Cell(path, params, tuple(k for k in params if k != "repeat"))]


def manifest_parameters(cells: list[Cell]) -> dict[str, dict]:
    """Each notebook's declared parameters and their defaults at run time, as the manifest keeps them: a
    report, compare or index can read a run's parameters from its own manifest, not from today's notebooks."""
    return {c.name: declared_parameters(c.notebook) for c in {c.name: c for c in cells}.values()}


def cells_manifest(cells: list[Cell]) -> list[dict]:
    """How cells are kept in ``manifest.json``, in execution order (enough to resume them)."""
    return [{"notebook": str(c.notebook.relative_to(PROJECT_ROOT)) if c.notebook.is_relative_to(PROJECT_ROOT)
             else str(c.notebook), "params": c.params, "swept": list(c.swept)} for c in cells]


def _matches(part: pd.DataFrame, params: dict) -> bool:
    return all(k in part and (part[k] == column_value(v)).all() for k, v in params.items())


def pending_cells(run_dir: Path) -> list[Cell]:
    """Cells of an interrupted run that did not complete. Their partial summary parts and the
    previous failure list are moved to ``interrupted/`` (kept, never deleted)."""
    manifest = results.read_manifest(run_dir)
    done = set(results.read_json(run_dir / COMPLETED, []))
    cells = [Cell((PROJECT_ROOT / c["notebook"]).resolve(), c["params"], tuple(c["swept"]))
             for c in manifest.get("cells", [])]
    pending = [c for c in cells if c.executed_name not in done]
    aside = run_dir / "interrupted" / dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    stale = [p for p in (run_dir / "parts").glob("*.parquet")
             if any(_matches(pd.read_parquet(p), {**c.params, "notebook": c.name}) for c in pending)]
    stale += [run_dir / "servers" / p.stem for p in stale if (run_dir / "servers" / p.stem).exists()]
    if (run_dir / results.FAILURES).exists():
        stale.append(run_dir / results.FAILURES)
    for path in stale:
        target = aside / path.relative_to(run_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        path.rename(target)
    return pending


@functools.cache
def _ipc_dir() -> str:
    """This process's private folder for kernel sockets: made on first use, removed at exit."""
    path = tempfile.mkdtemp(prefix="mqbench-kernel-")
    atexit.register(shutil.rmtree, path, True)
    return path


class IPCKernelManager(AsyncKernelManager):
    """A kernel reached over local IPC sockets in a private folder rather than TCP: nothing listens on a
    port, and ipykernel has no reason to warn that its TCP traffic is unencrypted."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.transport = "ipc"
        self.ip = os.path.join(_ipc_dir(), f"k{os.getpid()}-{id(self)}")


def _execute_cell(cell: Cell, run_dir: Path) -> None:
    out = run_dir / "executed" / cell.executed_name
    pm.execute_notebook(str(cell.notebook), str(out), parameters={**cell.params, "run_dir": str(run_dir)},
                        cwd=str(cell.notebook.parent), progress_bar=False, log_output=False,
                        kernel_manager_class=IPCKernelManager)
    completed = results.read_json(run_dir / COMPLETED, [])
    results.atomic_write_text(run_dir / COMPLETED, json.dumps([*completed, cell.executed_name], indent=1))


def execute(cells: list[Cell], run_dir: Path, show_progress: bool = True) -> list[dict]:
    """Run every cell with papermill into ``run_dir``; a failed cell is recorded, the rest still run.

    Each completed cell is listed in ``completed.json`` so ``mqbench run --resume`` skips it. The
    terminal shows the grid's bar (cells done, overall ETA) with the running cell and its phase.
    """
    failures = []
    status = run_dir / ".progress.json"
    os.environ[progress.ENV] = str(status)
    bar = tqdm(total=len(cells), desc="grid", unit="cell", disable=not show_progress, dynamic_ncols=True)
    try:
        for cell in cells:
            t0 = time.perf_counter()
            show = lambda line, label=cell.label: bar.set_postfix_str(f"{label} · {line}"[:110])  # noqa: E731
            show("starting")
            try:
                with progress.Monitor(status, show):
                    _execute_cell(cell, run_dir)
            except Exception as exc:  # noqa: BLE001 - recorded and shown in the report
                entry = {"notebook": cell.name, "params": cell.params, "executed": f"executed/{cell.executed_name}",
                         "error": _one_line(exc), "elapsed_s": time.perf_counter() - t0,
                         "time_utc": dt.datetime.now(dt.timezone.utc).isoformat()}
                results.record_failure(run_dir, entry)
                failures.append(entry)
                bar.write(f"FAILED {cell.label}: {entry['error']}")
            else:
                bar.write(f"done   {cell.label} in {time.perf_counter() - t0:.0f} s")
            results.add_to_manifest(run_dir, "timings", {
                "executed": cell.executed_name, "elapsed_s": round(time.perf_counter() - t0, 1),
                "finished_utc": dt.datetime.now(dt.timezone.utc).isoformat(), "failed": bool(failures)
                and failures[-1]["executed"] == f"executed/{cell.executed_name}"})
            bar.update(1)
    finally:
        bar.close()
        os.environ.pop(progress.ENV, None)
    results.consolidate(run_dir)
    return failures


def _one_line(exc: Exception) -> str:
    if isinstance(exc, pm.PapermillExecutionError):
        return f"{exc.ename}: {exc.evalue}"[:500]
    return f"{type(exc).__name__}: {exc}"[:500]
