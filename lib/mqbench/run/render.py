"""Pages rendered by executing a page notebook on recorded results — never a benchmark: a run's
``report.html`` (``notebooks/report.ipynb``) and a comparison (``notebooks/compare.ipynb``)."""
from __future__ import annotations

from pathlib import Path

import papermill as pm

from mqbench.core import page, results
from mqbench.core.paths import NOTEBOOKS
from mqbench.run.runner import IPCKernelManager


def execute_page(notebook: Path, executed: Path, parameters: dict, title: str, out: Path) -> Path:
    """Execute a page notebook on recorded results (never a benchmark) and write its outputs as one
    self-contained HTML page at ``out``."""
    executed.parent.mkdir(parents=True, exist_ok=True)
    pm.execute_notebook(str(notebook), str(executed), parameters=parameters, cwd=str(notebook.parent),
                        progress_bar=False, kernel_manager_class=IPCKernelManager)
    results.atomic_write_text(out, page.from_notebook(executed, title))
    return out


def build(run_dir: str | Path) -> Path:
    """``report.html`` of a run folder, from its ``summary.parquet`` and ``manifest.json``."""
    run_dir = results.open_run_dir(run_dir).resolve()
    if not (run_dir / results.SUMMARY).exists():
        results.consolidate(run_dir)
    return execute_page(NOTEBOOKS / "report.ipynb", run_dir / "executed" / "report.ipynb", {"run_dir": str(run_dir)},
                        f"mqbench report · {run_dir.name}", run_dir / "report.html")
