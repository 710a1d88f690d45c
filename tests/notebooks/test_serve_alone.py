"""search_query with one server in memory at a time: the builder's folder restarted under each MQ in turn
(mq.type switched both ways), an operating point chosen on the build, idle windows, the start still the unit."""
import pandas as pd
from conftest import mqbench
from mqbench.stats import findings

TINY = ["-p", "dataset", "synthetic-overlap", "-p", "n", "3000", "-p", "dim", "8", "-p", "queries", "10",
        "-p", "index_type", "IVF_FLAT", "-p", "index_params", "{nlist: 16}", "-p", "search_params", "{nprobe: 1}",
        "-p", "search_param_sweep", "[{nprobe: 1}, {nprobe: 4}, {nprobe: 16}]", "-p", "target_recall", "0.9",
        "-p", "serve_alone", "True", "-p", "own_builds", "False", "-p", "idle_window_s", "0.5",
        "-p", "start_pairs", "2", "-p", "tick_samples", "2", "-p", "blocks", "1", "-p", "block_requests", "5",
        "-p", "block_window_s", "0.3", "-p", "block_concurrency", "1", "-p", "serial_requests", "10",
        "-p", "warmup_requests", "1", "-p", "concurrency_levels", "[1]", "-p", "sweep_concurrency", "1",
        "-p", "open_loop_clients", "1", "-p", "consistency_levels", "[]", "-p", "request_shapes", "[]",
        "-p", "query_kinds", "[]", "-p", "open_loop_rates", "[]"]


def test_one_server_at_a_time_on_one_folder(tmp_path, live_pids):
    before = live_pids()
    proc = mqbench("run", "notebooks/search_query.ipynb", "--run-dir", str(tmp_path / "run"), *TINY, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert live_pids() == before
    s = pd.read_parquet(tmp_path / "run" / "summary.parquet")
    starts = s[(s["op"] == "server_start") & s["start"].notna()]
    assert len(starts) == 4 and set(starts["together"]) == {1}  # every start alone
    assert starts.groupby("start")["mq"].nunique().eq(2).all()  # both MQs in every pair
    counted = s[(s["op"] == "count_rows") & s["start"].notna()]
    assert set(counted["rows_counted"]) == {3000} and len(counted) == 4
    sweep = s[s["sweep"] == "search_params"]
    assert len(sweep) >= 1 and sweep["recall_at_k"].notna().all()
    reached = sweep[sweep["recall_at_k"] >= 0.9]
    chosen = reached["point"].iloc[0] if len(reached) else sweep["point"].iloc[-1]
    assert set(s.loc[s["sweep"] == "blocks", "operating_point"]) == {chosen}
    idle = s[s["op"] == "idle"]
    assert len(idle) == 4 and (idle["server_cpu_s"] >= 0).all()
    assert {"data_rc", "data_lid"} <= set(s) and (s["data_rc"] > 1).all()
    table = findings.findings(s)
    blocks = table[(table.get("sweep") == "blocks") & (table["unit"] == "start pair")]
    assert len(blocks) and set(blocks["units"]) == {2}
