"""search_query against an external server, and a failing notebook that must leave nothing running."""
import json
from pathlib import Path

import pandas as pd
import papermill as pm
import yaml
from conftest import mqbench
from mqbench.milvus.server import EmbeddedMilvus

ROOT = Path(__file__).resolve().parents[2]
TINY = ["-p", "n", "500", "-p", "dim", "8", "-p", "queries", "5", "-p", "serial_requests", "5",
        "-p", "start_pairs", "1", "-p", "tick_samples", "0",
        "-p", "blocks", "1", "-p", "block_requests", "5", "-p", "block_window_s", "0.3", "-p", "block_concurrency", "1",
        "-p", "warmup_requests", "1", "-p", "concurrency_levels", "[1]", "-p", "sweep_window_s", "0.5",
        "-p", "sweep_warmup_s", "0.2", "-p", "sweep_concurrency", "1", "-p", "open_loop_clients", "1",
        "-p", "open_loop_rates", "[]", "-p", "search_param_sweep", "[]", "-p", "consistency_levels", "[]",
        "-p", "request_shapes", "[]", "-p", "query_kinds", "[]"]


def mqbench_run(run_dir, *args):
    return mqbench("run", "notebooks/search_query.ipynb", "--run-dir", str(run_dir), *TINY, *args, timeout=600)


def test_external_server_by_uri_token_from_env(tmp_path, monkeypatch):
    with EmbeddedMilvus("natsmq", tmp_path / "srv") as server:
        token = server.connection.token
        monkeypatch.setenv("MQBENCH_TOKEN", token)
        proc = mqbench_run(tmp_path / "run", "-p", "uri", server.uri, "-p", "variants", "[natsmq]")
    assert proc.returncode == 0, proc.stderr[-2000:]
    s = pd.read_parquet(tmp_path / "run" / "summary.parquet")
    assert set(s["server"]) == {"external"} and set(s["mq"]) == {"natsmq"}
    assert "server_start" not in set(s["op"])
    assert s["server_rss_peak_mib"].isna().all()  # not guessed for a server we did not start
    assert (s.loc[s["op"] == "search", "rps"] > 0).all()
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["external_token_from_env"] is True
    password = token.split(":", 1)[1]
    for path in (tmp_path / "run").rglob("*"):
        if path.is_file():
            assert password not in path.read_bytes().decode(errors="replace"), path


def test_bad_parameter_fails_before_any_server_starts(tmp_path, live_pids):
    before = live_pids()
    proc = mqbench_run(tmp_path / "run", "-p", "variants", "[natsmq]", "-p", "index_type", "NO_SUCH_INDEX")
    assert proc.returncode == 2  # checked by the study before the run folder exists: a user's error, one line
    assert live_pids() == before
    assert proc.stderr.strip().splitlines()[-1].startswith("mqbench: error: search_query")
    assert "index_type 'NO_SUCH_INDEX' is not one of" in proc.stderr
    assert not (tmp_path / "run").exists()


def test_failing_phase_is_recorded_and_earlier_phases_kept(tmp_path, live_pids):
    """A filter Milvus cannot parse fails in the query-kind phase; everything measured before it stays."""
    before = live_pids()
    proc = mqbench_run(tmp_path / "run", "-p", "variants", "[rocksmq]", "-p", "query_kinds", '["count"]',
                       "-p", "filter_query", "attr <")
    assert proc.returncode == 1
    assert live_pids() == before
    s = pd.read_parquet(tmp_path / "run" / "summary.parquet")
    assert {"server_start", "insert", "flush", "index", "search"} <= set(s.loc[s["status"] == "ok", "op"])
    failed = s[s["status"] == "failed"]
    assert failed["op"].tolist() == ["count"] and failed["error"].iloc[0]


def test_interactive_run_without_run_dir_makes_its_own_folder(tmp_path, monkeypatch):
    """As in JupyterLab: run all cells with run_dir unset; the same layout as a batch run appears."""
    monkeypatch.setenv("MQBENCH_RESULTS", str(tmp_path / "results"))
    params = {TINY[i + 1]: yaml.safe_load(TINY[i + 2]) for i in range(0, len(TINY), 3)}
    pm.execute_notebook(str(ROOT / "notebooks" / "search_query.ipynb"), str(tmp_path / "out.ipynb"),
                        parameters={**params, "variants": ["rocksmq"]}, cwd=str(ROOT / "notebooks"),
                        progress_bar=False)
    (run,) = (tmp_path / "results").iterdir()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["mode"] == "interactive" and manifest["parameters"]["variants"] == ["rocksmq"]
    s = pd.read_parquet(run / "summary.parquet")
    assert set(s["mq"]) == {"rocksmq"} and (s["status"] == "ok").all()
    assert list((run / "raw").glob("*.parquet")) and list((run / "parts").glob("*.parquet"))
