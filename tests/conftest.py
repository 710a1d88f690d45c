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

