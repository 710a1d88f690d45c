"""Session.track, the runner's resume bookkeeping and the published-run helpers, without a server."""
import json

import pandas as pd
import pytest
from mqbench.core import results
from mqbench.measure import workload
from mqbench.run import runner
from mqbench.run.session import Session

ROOT = runner.PROJECT_ROOT


def _session(tmp_path, **params):
    run = results.create_run_dir(tmp_path / "run")
    results.write_manifest(run, mode="test")
    return Session("search_query", {"repeat": 0, "n": 10, **params}, run, interactive=False)


def _result(latencies_ms, window_s=1.0):
    rows = [(0, i, 0, i, int(ms * 1e6), int(ms * 1e6), True, "", False, False) for i, ms in enumerate(latencies_ms)]
    raw = pd.DataFrame(rows, columns=workload.RAW_COLUMNS).assign(in_window=True)
    return workload.Result(raw, window_s, 1, 0.2, 1.0)


def test_track_records_a_row_with_its_raw_file_and_keeps_it_named(tmp_path):
    session = _session(tmp_path)
    with session.track("search", "serial", sweep="blocks", block=3) as t:
        t.result = _result([1.0] * 30)
    row = t.row
    assert row["status"] == "ok" and row["count"] == 30 and row["latency_p50_ms"] == pytest.approx(1.0)
    assert row["block"] == 3 and row["n"] == 10 and row["run_id"] == session.run_dir.name
    assert pd.read_parquet(session.run_dir / row["raw_file"])["latency_ns"].tolist() == [1_000_000] * 30
    assert len(pd.read_parquet(session.part_path)) == 1  # written at once


def test_track_records_a_failure_and_reraises(tmp_path):
    session = _session(tmp_path)
    with pytest.raises(ZeroDivisionError):
        with session.track("flush", "load"):
            1 / 0
    assert session.rows[-1]["status"] == "failed" and "ZeroDivisionError" in session.rows[-1]["error"]


def test_a_phase_where_every_request_failed_is_a_failed_phase(tmp_path):
    session = _session(tmp_path)
    res = _result([1.0] * 3)
    res.raw["ok"], res.raw["error"] = False, "boom"
    with pytest.raises(RuntimeError, match="every count request failed, e.g. boom"):
        with session.track("count", "serial") as t:
            t.result = res


def test_parameters_never_clash_silently_with_measured_columns(tmp_path):
    session = _session(tmp_path, rps=5)
    with pytest.raises(ValueError, match="clash with summary columns"):
        with session.track("search", "serial") as t:
            t.result = _result([1.0] * 30)


def test_pending_cells_set_partial_parts_aside(tmp_path):
    grid = {"notebooks": [{"notebook": "notebooks/scale_curve.ipynb", "grid": {"mq": ["rocksmq", "natsmq"]}}]}
    cells = runner.expand_grid(grid, ROOT)
    run = results.create_run_dir(tmp_path / "run")
    results.write_manifest(run, cells=runner.cells_manifest(cells))
    done, partial = cells
    (run / runner.COMPLETED).write_text(json.dumps([done.executed_name]))
    results.atomic_write_parquet(pd.DataFrame([{"notebook": "scale_curve", **partial.params, "op": "insert"}]),
                                 run / "parts" / "partial.parquet")
    results.atomic_write_parquet(pd.DataFrame([{"notebook": "scale_curve", **done.params, "op": "insert"}]),
                                 run / "parts" / "done.parquet")
    pending = runner.pending_cells(run)
    assert [c.executed_name for c in pending] == [partial.executed_name]
    assert [p.name for p in (run / "parts").iterdir()] == ["done.parquet"]
    assert list(run.glob("interrupted/*/parts/partial.parquet"))


def test_publish_copies_no_raw_files_and_combine_keeps_run_ids(tmp_path):
    session = _session(tmp_path)
    with session.track("search", "serial") as t:
        t.result = _result([1.0] * 30)
    results.consolidate(session.run_dir)
    (session.run_dir / "report.html").write_text("<html></html>")
    published = results.publish(session.run_dir, tmp_path / "reports")
    assert sorted(p.name for p in published.iterdir()) == ["manifest.json", "report.html", "summary.parquet"]
    combined = results.combine([session.run_dir, published], tmp_path / "both")
    summary = pd.read_parquet(combined / results.SUMMARY)
    assert len(summary) == 2 and set(summary["run_id"]) == {session.run_dir.name}
    assert json.loads((combined / "manifest.json").read_text())["mode"] == "combined"


def test_select_filters_grid_cells():
    grid, cells = runner.load_grid(ROOT / "data" / "grids" / "ingest_10m.yaml")
    assert {c.params["mq"] for c in runner.select(cells, ["mq=natsmq"])} == {"natsmq"}
    with pytest.raises(runner.GridError, match="no cell of the grid matches"):
        runner.select(cells, ["mq=kafka"])
