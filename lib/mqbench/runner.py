"""Headless runs: papermill executes notebooks over a grid (notebook × parameters × repeats)."""
from __future__ import annotations

import datetime as dt
import itertools
import json
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import papermill as pm
import yaml
from tqdm import tqdm

from . import results
from .results import column_value

INJECTED = ("run_dir", "repeat")  # set by the runner, declared by every notebook
COMPLETED = "completed.json"


class GridError(ValueError):
    """A grid or parameter set that names something that does not exist."""


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


def declared_parameters(notebook: Path) -> dict:
    """Names and defaults of the notebook's ``parameters`` cell."""
    if not notebook.exists():
        raise GridError(f"notebook {notebook} does not exist")
    return {name: spec["default"] for name, spec in pm.inspect_notebook(str(notebook)).items()}


def check_parameters(notebook: Path, params: dict) -> None:
    declared = declared_parameters(notebook)
    unknown = [name for name in params if name not in declared]
    if unknown:
        raise GridError(f"{notebook.name} has no parameter {unknown[0]!r} "
                        f"(it declares: {', '.join(sorted(declared))})")
    missing = [name for name in INJECTED if name not in declared]
    if missing:
        raise GridError(f"{notebook.name} must declare parameter {missing[0]!r} for headless runs")


def parse_cli_params(pairs: list[list[str]] | None) -> dict:
    """``-p name value`` pairs; values are YAML (``20000`` is an int, ``[1, 2]`` a list)."""
    return {name: yaml.safe_load(value) for name, value in (pairs or [])}


def expand_grid(grid: dict, base: Path) -> list[Cell]:
    """``notebooks: [{notebook, parameters, grid, repeats}]`` and a default ``repeats`` → one Cell per
    combination and repeat."""
    if not isinstance(grid, dict) or not isinstance(grid.get("notebooks"), list):
        raise GridError("grid must be a mapping with a 'notebooks' list")
    cells = []
    for entry in grid["notebooks"]:
        unknown_keys = set(entry) - {"notebook", "parameters", "grid", "repeats"}
        if "notebook" not in entry or unknown_keys:
            raise GridError(f"grid entry {entry!r} needs 'notebook' and may have only 'parameters', 'grid' "
                            "and 'repeats'")
        repeats = entry.get("repeats", grid.get("repeats", 1))
        if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 1:
            raise GridError(f"grid 'repeats' must be a positive integer, got {repeats!r}")
        notebook = (base / entry["notebook"]).resolve()
        fixed = entry.get("parameters") or {}
        axes = entry.get("grid") or {}
        for name, values in axes.items():
            if not isinstance(values, list) or not values:
                raise GridError(f"grid axis {name!r} of {notebook.name} must be a non-empty list")
        for combo in itertools.product(*axes.values()):
            for repeat in range(repeats):
                params = {**fixed, **dict(zip(axes, combo)), "repeat": repeat}
                check_parameters(notebook, params)
                cells.append(Cell(notebook, params, tuple(axes)))
    return cells


def load_grid(path: str | Path) -> tuple[dict, list[Cell]]:
    path = Path(path)
    if not path.exists():
        raise GridError(f"grid file {path} does not exist")
    grid = yaml.safe_load(path.read_text())
    return grid, expand_grid(grid, results.PROJECT_ROOT)


def single_cell(notebook: str | Path, params: dict) -> list[Cell]:
    path = Path(notebook).resolve()
    params = {**params}
    params.setdefault("repeat", 0)
    check_parameters(path, params)
    return [Cell(path, params, tuple(k for k in params if k != "repeat"))]


def cells_manifest(cells: list[Cell]) -> list[dict]:
    """How cells are kept in ``manifest.json`` (enough to resume them)."""
    return [{"notebook": str(c.notebook.relative_to(results.PROJECT_ROOT)) if c.notebook.is_relative_to(
        results.PROJECT_ROOT) else str(c.notebook), "params": c.params, "swept": list(c.swept)} for c in cells]


def _matches(part: pd.DataFrame, params: dict) -> bool:
    return all(k in part and (part[k] == column_value(v)).all() for k, v in params.items())


def pending_cells(run_dir: Path) -> list[Cell]:
    """Cells of an interrupted run that did not complete. Their partial summary parts and the
    previous failure list are moved to ``interrupted/`` (kept, never deleted)."""
    manifest = results.read_manifest(run_dir)
    done = set(results.read_json(run_dir / COMPLETED, []))
    cells = [Cell((results.PROJECT_ROOT / c["notebook"]).resolve(), c["params"], tuple(c["swept"]))
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


def execute(cells: list[Cell], run_dir: Path, progress: bool = True) -> list[dict]:
    """Run every cell with papermill into ``run_dir``; a failed cell is recorded, the rest still run.

    Each completed cell is listed in ``completed.json`` so ``mqbench run --resume`` skips it.
    """
    failures = []
    bar = tqdm(cells, desc="grid", unit="notebook", disable=not progress)
    for cell in bar:
        bar.set_postfix_str(cell.executed_name[:60])
        out = run_dir / "executed" / cell.executed_name
        t0 = time.perf_counter()
        try:
            pm.execute_notebook(str(cell.notebook), str(out), parameters={**cell.params, "run_dir": str(run_dir)},
                                cwd=str(cell.notebook.parent), progress_bar=False, log_output=False)
            completed = results.read_json(run_dir / COMPLETED, [])
            results.atomic_write_text(run_dir / COMPLETED, json.dumps([*completed, cell.executed_name], indent=1))
        except Exception as exc:  # noqa: BLE001 - recorded and shown in the report
            entry = {"notebook": cell.name, "params": cell.params, "executed": f"executed/{out.name}",
                     "error": _one_line(exc), "elapsed_s": time.perf_counter() - t0,
                     "time_utc": dt.datetime.now(dt.timezone.utc).isoformat()}
            results.record_failure(run_dir, entry)
            failures.append(entry)
            tqdm.write(f"FAILED {cell.executed_name}: {entry['error']}")
    results.consolidate(run_dir)
    return failures


def _one_line(exc: Exception) -> str:
    if isinstance(exc, pm.PapermillExecutionError):
        return f"{exc.ename}: {exc.evalue}"[:500]
    return f"{type(exc).__name__}: {exc}"[:500]
