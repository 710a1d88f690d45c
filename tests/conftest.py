"""Shared fixtures. Tiers by folder: unit (no server), integration (real servers), notebooks (papermill)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mqbench.milvus.server import milvus_processes

ROOT = Path(__file__).resolve().parents[1]


# files handed to the workers first: the long ones, so none is left to run alone at the end (the smoke run first)
FIRST = ("notebooks/test_search_query.py", "notebooks/", "unit/test_calibration.py", "integration/")


def _rank(item) -> int:
    path = Path(str(item.fspath)).relative_to(ROOT / "tests").as_posix()
    return next((i for i, prefix in enumerate(FIRST) if path.startswith(prefix)), len(FIRST))


def pytest_collection_modifyitems(items):
    """Tier marks, and the long files first. (Three pytest-xdist workers take whole files, ``--dist loadfile``: a
    file's run fixture is made once, on one worker, while the others run other files; three, because the servers
    wait on time ticks and I/O and leave two cores idle part of the time.)"""
    items.sort(key=_rank)  # stable: a file's tests keep their order
    for item in items:
        tier = Path(str(item.fspath)).relative_to(ROOT / "tests").parts[0]
        if tier in ("integration", "notebooks"):
            item.add_marker(pytest.mark.integration)
        if tier == "notebooks":
            item.add_marker(pytest.mark.notebook)


@pytest.fixture(autouse=True)
def _results_in_tmp(tmp_path_factory, monkeypatch):
    """Nothing a test makes lands in the project's results/ or data cache."""
    monkeypatch.setenv("MQBENCH_RESULTS", str(tmp_path_factory.getbasetemp() / "results"))
    monkeypatch.setenv("MQBENCH_DATA_CACHE", str(tmp_path_factory.getbasetemp() / "data-cache"))


def milvus_pids(under: Path) -> set[int]:
    """PIDs of Milvus processes working in a folder under ``under`` (this test process's temporary folders, so
    the servers of tests running in parallel are not counted), to prove none is left behind."""
    return {pid for pid, cwd in milvus_processes().items() if cwd.is_relative_to(under)}


@pytest.fixture
def live_pids(tmp_path_factory):
    base = tmp_path_factory.getbasetemp().resolve()
    return lambda: milvus_pids(base)


def mqbench(*args: str, timeout: float = 900, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    """The one way tests launch the ``mqbench`` command line: a subprocess of this interpreter."""
    return subprocess.run([sys.executable, "-m", "mqbench.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env, **kwargs)


def start_mqbench(*args: str) -> subprocess.Popen:
    """``mqbench`` started in the background (for tests that interrupt it)."""
    return subprocess.Popen([sys.executable, "-m", "mqbench.cli", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="session")
def run_mqbench():
    return _run_mqbench


def _run_mqbench(run_dir: Path, *args: str, grid_yaml: str | None = None, timeout: float = 900) -> Path:
    """``mqbench run`` (a grid written from ``grid_yaml`` if given) with ``--report``; asserts it succeeded and
    printed the run folder last, and returns it."""
    if grid_yaml is not None:
        grid = run_dir.parent / f"{run_dir.name}-grid.yaml"
        grid.write_text(grid_yaml)
        args = ("--grid", str(grid), *args)
    proc = mqbench("run", *args, "--run-dir", str(run_dir), "--report", timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == str(run_dir)
    return run_dir


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """The smoke grid (both MQs side by side in paired blocks, every sweep at one or two points), run once for
    every test that reads it."""
    return _run_mqbench(tmp_path_factory.mktemp("smoke") / "run", "--grid", "data/grids/smoke.yaml")
