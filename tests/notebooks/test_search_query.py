"""The main job at smoke size: `mqbench run --grid smoke.yaml --report`, asserting on recorded values."""
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "smoke"
    proc = subprocess.run([sys.executable, "-m", "mqbench.cli", "run", "--grid", "data/grids/smoke.yaml",
                           "--run-dir", str(run_dir), "--report"], cwd=ROOT, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == str(run_dir)  # the folder is the last line
    return run_dir


def test_summary_has_both_mqs_and_every_phase(smoke_run):
    s = pd.read_parquet(smoke_run / "summary.parquet")
    assert set(s["mq"]) == {"rocksmq", "natsmq"}
    assert (s["status"] == "ok").all()
    for column in ["run_id", "notebook", "mq", "repeat", "n", "dim", "consistency", "op", "phase", "concurrency"]:
        assert column in s
    for mq, rows in s.groupby("mq"):
        ops = set(zip(rows["op"], rows["phase"]))
        assert {("insert", "load"), ("flush", "load"), ("index", "load"), ("load", "load"),
                ("search", "serial"), ("query", "serial"), ("server_start", "lifecycle")} <= ops
        search = rows[(rows["op"] == "search") & (rows["phase"] == "serial")].iloc[0]
        assert search["recall_at_k"] > 0.8 and search["errors"] == 0 and search["latency_avg_ms"] > 0
        conc = rows[(rows["phase"] == "concurrent") & (rows["sweep"] == "concurrency")]
        assert sorted(set(conc["concurrency"])) == [1, 2] and (conc["rps"] > 0).all()
        assert rows[rows["op"] == "insert"]["rows"].iloc[0] == 3000
        assert set(rows["dataset"]) == {"glove-50-angular"} and set(rows["metric"]) == {"COSINE"}
        assert search["ndcg_at_k"] > 0.8
        assert rows["server_rss_peak_mb"].max() > 50 and rows["mq_storage_bytes"].max() > 0
        assert rows[rows["op"] == "server_stop"]["stop_method"].iloc[0] in ("terminated", "killed")


def test_every_sweep_is_recorded_with_its_values(smoke_run):
    s = pd.read_parquet(smoke_run / "summary.parquet")
    for mq, rows in s.groupby("mq"):
        by = rows.groupby("sweep")["op"].count()
        assert {"baseline": 2, "concurrency": 4, "open_loop": 2, "search_params": 4, "consistency": 8,
                "shape": 4, "query_kind": 4}.items() <= by.to_dict().items(), by
        params = rows[(rows["sweep"] == "search_params") & (rows["phase"] == "serial")].set_index("knob")
        assert params.loc[64.0, "recall_at_k"] >= params.loc[10.0, "recall_at_k"] > 0.3
        cons = rows[(rows["sweep"] == "consistency") & (rows["op"] == "search")].set_index("consistency_level")
        assert cons.loc["Strong", "latency_p50_ms"] > 10 * cons.loc["Eventually", "latency_p50_ms"]  # waits a tick
        opened = rows[rows["sweep"] == "open_loop"]
        assert sorted(opened["target_rps"]) == [50, 150] and (opened["not_sent"] == 0).all()
        assert (opened["rps"] > 0.5 * opened["target_rps"]).all()
        assert (opened["latency_p50_ms"] >= opened["service_p50_ms"]).all()
        assert set(rows.loc[rows["sweep"] == "query_kind", "op"]) == {"filter_query", "count"}
        assert (rows.loc[rows["sweep"].notna(), "errors"] == 0).all()


def test_open_loop_latency_counts_from_the_schedule(smoke_run):
    s = pd.read_parquet(smoke_run / "summary.parquet")
    row = s[s["phase"] == "open_loop"].iloc[0]
    raw = pd.read_parquet(smoke_run / row["raw_file"])
    sent = raw[raw["start_ns"] >= 0]
    assert (sent["start_ns"] >= sent["scheduled_ns"]).all()
    assert (sent["latency_ns"] == sent["start_ns"] + sent["service_ns"] - sent["scheduled_ns"]).all()
    measured = sent[~sent["warmup"] & sent["ok"]]
    assert measured["latency_ns"].quantile(0.99) / 1e6 == pytest.approx(row["latency_p99_ms"])


def test_raw_latencies_recompute_the_summary(smoke_run):
    s = pd.read_parquet(smoke_run / "summary.parquet")
    row = s[(s["op"] == "query") & (s["phase"] == "serial")].iloc[0]
    raw = pd.read_parquet(smoke_run / row["raw_file"])
    measured = raw[~raw["warmup"] & raw["ok"]]
    assert len(measured) == row["count"]
    assert measured["latency_ns"].mean() / 1e6 == pytest.approx(row["latency_avg_ms"])


def test_run_folder_layout_and_manifest(smoke_run):
    manifest = json.loads((smoke_run / "manifest.json").read_text())
    assert manifest["mode"] == "grid" and len(manifest["cells"]) == 2
    assert manifest["versions"]["milvus"] == "2.3.5"
    executed = sorted(p.name for p in (smoke_run / "executed").glob("search_query__*.ipynb"))
    assert len(executed) == 2 and any("mq=natsmq" in e for e in executed)
    assert not (smoke_run / "failures.json").exists()


def test_report_is_self_contained_with_seed_numbers(smoke_run):
    html = (smoke_run / "report.html").read_text()
    assert "23.55" in html and "20.17" in html  # the seed's Table 2 beside ours
    assert "natsmq" in html and "rocksmq" in html
    assert "data:image/png;base64" in html  # plots embedded
    for section in ["Latency vs throughput", "Recall vs QPS", "Consistency levels", "Request shapes"]:
        assert section in html
    assert "No search-parameter sweep" not in html and "No consistency sweep" not in html
    assert "Session.open" not in html and "import pandas" not in html  # no code cells


def test_export_as_vectordbbench_results(smoke_run):
    """`mqbench export --format vectordbbench`: the same structure as a file VectorDBBench 1.0.20 wrote
    (tests/unit/data), one case per MQ and repeat, values taken from the summary."""
    proc = subprocess.run([sys.executable, "-m", "mqbench.cli", "export", "--format", "vectordbbench",
                           str(smoke_run)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    ours = json.loads(Path(proc.stdout.strip()).read_text())
    theirs = json.loads((ROOT / "tests/unit/data/vectordbbench-1.0.20-result.json").read_text())
    assert set(ours) == set(theirs) and len(ours["results"]) == 2
    case, ref = ours["results"][0], theirs["results"][0]
    assert set(case["metrics"]) == set(ref["metrics"]) and set(case["task_config"]) == set(ref["task_config"])
    assert set(case["task_config"]["case_config"]["custom_case"]["dataset_config"]) == \
        set(ref["task_config"]["case_config"]["custom_case"]["dataset_config"])
    s = pd.read_parquet(smoke_run / "summary.parquet")
    by_label = {c["task_config"]["db_config"]["db_label"]: c["metrics"] for c in ours["results"]}
    for mq in ["rocksmq", "natsmq"]:
        rows = s[(s["mq"] == mq) & (s["sweep"] == "concurrency") & (s["op"] == "search")]
        metrics = by_label[f"mqbench-{mq}-r0"]
        assert metrics["qps"] == pytest.approx(rows["rps"].max(), abs=1e-3)
        assert metrics["conc_num_list"] == [1, 2] and metrics["recall"] > 0.8
        assert metrics["insert_duration"] > 0 and metrics["load_duration"] >= metrics["insert_duration"]
