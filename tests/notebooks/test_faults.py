"""Faults during a run: the server SIGKILLed mid-sweep, the runner SIGKILLed mid-grid, then --resume."""
import json
import os
import signal
import time

import pandas as pd
import psutil
import pytest
from conftest import mqbench, start_mqbench


def _wait_for(predicate, timeout=300, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _cli(*args):
    return start_mqbench("run", *args)


def _part_has(run, op):
    parts = list((run / "parts").glob("*.parquet"))
    try:
        return bool(parts) and op in set(pd.read_parquet(parts[0])["op"])
    except (OSError, ValueError, KeyError):  # being replaced
        return False


MOMENTS = {  # when the server is killed: what the run has recorded by then
    "after the index, while the served copy starts and loads": lambda run: _part_has(run, "index"),
    "mid-sweep, after the first block": lambda run: bool(list((run / "raw").glob("*search-serial*"))),
}


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_a_server_killed_at_any_moment_is_recorded_and_reported(tmp_path, live_pids, moment):
    before = live_pids()
    run = tmp_path / "run"
    proc = _cli("search_query", "--run-dir", str(run), "--report", "-p", "variants", "[natsmq]",
                "-p", "n", "1000", "-p", "dim", "8", "-p", "start_pairs", "1", "-p", "blocks", "3", "-p", "block_window_s", "2.0",
                "-p", "block_requests", "20", "-p", "concurrency_levels", "[1]")
    _wait_for(lambda: MOMENTS[moment](run), what=moment)
    _wait_for(lambda: live_pids() - before, what="a live server")
    for pid in live_pids() - before:
        os.kill(pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err[-2000:]
    assert live_pids() == before
    assert len(json.loads((run / "failures.json").read_text())) == 1
    s = pd.read_parquet(run / "summary.parquet")
    failed = s[s["status"] == "failed"]
    assert len(failed) >= 1 and failed["error"].str.contains(r"milvus \(natsmq\) died.*exit code -9").any(), \
        failed[["op", "error"]].to_string()
    assert {"insert", "index"} <= set(s.loc[s["status"] == "ok", "op"])  # kept
    html = (run / "report.html").read_text()
    assert "Failures" in html and "died" in html


LIGHT_GRID = """
notebooks:
  - notebook: notebooks/search_query.ipynb
    parameters: {n: 2000, dim: 8, queries: 5, start_pairs: 1, tick_samples: 0, blocks: 2, block_requests: 5,
                 block_window_s: 2.0,
                 block_concurrency: 1, warmup_requests: 1, concurrency_levels: [1], sweep_window_s: 0.5,
                 sweep_warmup_s: 0.2, sweep_concurrency: 1, open_loop_clients: 1, open_loop_rates: [],
                 search_param_sweep: [], consistency_levels: [], request_shapes: [], query_kinds: []}
    grid: {variants: [[rocksmq], [natsmq]]}
"""


def test_runner_killed_mid_grid_then_resumed(tmp_path, live_pids):
    before = live_pids()
    run = tmp_path / "run"
    grid = tmp_path / "grid.yaml"
    grid.write_text(LIGHT_GRID)
    proc = _cli("--grid", str(grid), "--run-dir", str(run))
    _wait_for(lambda: (run / "completed.json").exists() and len(list((run / "parts").glob("*"))) == 2,
              what="the second cell to start")
    _wait_for(lambda: live_pids() - before, what="the second cell's Milvus")
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _wait_for(lambda: not any(c.is_running() and c.status() != "zombie" for c in children), timeout=30,
              what="the kernel and its Milvus to die with the runner")
    assert live_pids() == before
    assert len(json.loads((run / "completed.json").read_text())) == 1

    resumed = mqbench("run", "--resume", str(run), timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "1 notebook executions left" in resumed.stderr
    s = pd.read_parquet(run / "summary.parquet")
    assert set(s["mq"]) == {"rocksmq", "natsmq"} and (s["status"] == "ok").all()
    assert s.groupby("mq")["op"].apply(lambda ops: (ops == "insert").sum()).tolist() == [1, 1]  # no duplicates
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["order_seed"] == 0 and len(manifest["cells"]) == 2
    assert list((run / "interrupted").rglob("*.parquet"))  # the partial part is kept aside
    assert len(json.loads((run / "completed.json").read_text())) == 2
    assert live_pids() == before


def test_natsmq_store_over_max_file_store_is_a_clear_error_not_a_hang(tmp_path, live_pids):
    """Milvus 2.3.5's embedded NATS ignores natsmq.server.maxFileStore (its log keeps the default
    'Max Storage'); mqbench's guard stops the ingest with a clear error instead of letting it run on."""
    before = live_pids()
    run = tmp_path / "run"
    proc = mqbench("run", "notebooks/search_query.ipynb", "--run-dir", str(run), "-p", "variants", "[natsmq]",
                   "-p", "n", "30000", "-p", "dim", "32", "-p", "batch_mb", "0.25", "-p", "server_overrides",
                   '{"natsmq.server.maxFileStore": 1048576}', timeout=300)
    assert proc.returncode == 1
    (failure,) = json.loads((run / "failures.json").read_text())
    assert "over natsmq.server.maxFileStore=1048576 B" in failure["error"]
    s = pd.read_parquet(run / "summary.parquet")
    assert s.loc[s["status"] == "failed", "op"].tolist() == ["insert"]
    (nats_log,) = (run / "servers").glob("*/*/logs/nats.log")
    max_storage = [line for line in nats_log.read_text().splitlines() if "Max Storage" in line]
    assert max_storage and "1.00 MB" not in max_storage[0]  # not applied by Milvus 2.3.5
    assert live_pids() == before
