"""Shared fixtures. Tiers by folder: unit (no server), integration (real servers), notebooks (papermill)."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(items):
    for item in items:
        tier = Path(str(item.fspath)).relative_to(ROOT / "tests").parts[0]
        if tier in ("integration", "notebooks"):
            item.add_marker(pytest.mark.integration)
        if tier == "notebooks":
            item.add_marker(pytest.mark.notebook)


@pytest.fixture(autouse=True)
def _results_in_tmp(tmp_path_factory, monkeypatch):
    """Nothing a test makes lands in the project's results/."""
    monkeypatch.setenv("MQBENCH_RESULTS", str(tmp_path_factory.getbasetemp() / "results"))
    monkeypatch.setenv("MQBENCH_DATA_CACHE", str(tmp_path_factory.getbasetemp() / "data-cache"))


@pytest.fixture
def live_pids():
    """PIDs of processes whose command line is the Milvus binary (to prove none is left behind)."""
    import psutil

    def pids():
        found = set()
        for proc in psutil.process_iter(["pid", "cmdline"]):
            cmd = proc.info["cmdline"] or []
            if len(cmd) >= 3 and cmd[0].endswith("/milvus") and cmd[1:3] == ["run", "standalone"]:
                found.add(proc.info["pid"])
        return found

    return pids



@pytest.fixture(scope="session")
def run_mqbench():
    return _run_mqbench


def _run_mqbench(run_dir: Path, *args: str, grid_yaml: str | None = None, timeout: float = 900) -> Path:
    """``mqbench run`` in a subprocess (a grid written from ``grid_yaml`` if given, with ``--report``);
    asserts it succeeded and returns the run folder."""
    import subprocess
    import sys

    if grid_yaml is not None:
        grid = run_dir.parent / f"{run_dir.name}-grid.yaml"
        grid.write_text(grid_yaml)
        args = ("--grid", str(grid), *args)
    proc = subprocess.run([sys.executable, "-m", "mqbench.cli", "run", *args, "--run-dir", str(run_dir),
                           "--report"], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run_dir
