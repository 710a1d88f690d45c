"""The smoke grid under `mqbench run --report`: both MQs side by side in paired blocks, asserting on the values
the run recorded (never on how fast this host is); and the three pages people read made from it — report.html,
compare.html, index.html — opened in headless Chromium: no console errors, every image decodes, every
navigation link has its target, nothing wider than 1280 px. (One file: the smoke run is made once per worker.)"""
import json
from pathlib import Path

import pandas as pd
import pytest
from browser import browser, check_page, close
from conftest import mqbench
from mqbench.core import results
from mqbench.stats import findings


def test_each_mq_builds_then_one_build_is_served_over_start_pairs(smoke_run):
    s = pd.read_parquet(smoke_run / "summary.parquet")
    assert set(s["variant"]) == {"rocksmq", "natsmq"} and (s["status"] == "ok").all()
    assert set(s["data_name"]) == {"glove-50-angular"} and set(s["data_metric"]) == {"COSINE"}
    inserts = s[s["op"] == "insert"]  # each MQ's own build: the ingest observations
    assert inserts["rows"].tolist() == [3000, 3000] and (inserts["rows_per_s"] > 0).all()
    assert (inserts["mq_bytes_carried"] == 3000 * (50 * 4 + 16)).all()
    # both builds crossed with both MQs: every build copied for every variant, the build alternating by start pair
    copies = s[s["op"] == "copy_build"]
    assert sorted(zip(copies["build_from"], copies["variant"])) == [
        ("natsmq", "natsmq"), ("natsmq", "rocksmq"), ("rocksmq", "natsmq"), ("rocksmq", "rocksmq")]
    assert (copies["copied_bytes"] > 0).all()
    served = s[s["start"].notna() & (s["sweep"] == "blocks")].groupby("start")["build_variant"]
    assert served.nunique().eq(1).all() and sorted(served.first().value_counts()) == [2, 3]
    counted = s[(s["op"] == "count_rows") & (s["phase"] == "lifecycle")]
    assert len(counted) == 2 * 5 and (counted["rows_counted"] == 3000).all() and (counted["segments"] >= 1).all()
    starts = s[(s["op"] == "server_start") & s["start"].notna()]
    assert starts.groupby("start")["variant"].nunique().eq(2).all() and len(starts) == 10
    first = starts[starts["launch_order"] == 0]["variant"].value_counts()
    assert first.min() >= 2  # launch order balanced over the 5 pairs
    blocks = s[s["sweep"] == "blocks"]
    per_variant = blocks.groupby(["variant", "op", "phase"])["start"].nunique()
    assert (per_variant == 5).all() and len(per_variant) == 2 * 2 * 2 and (blocks["unit"] == "start").all()
    assert set(s.loc[s["sweep"] == "warmup", "start"]) == set(range(5))  # recorded, excluded from verdicts
    search = blocks[(blocks["op"] == "search") & (blocks["phase"] == "serial")]
    assert (search["recall_at_k"] > 0.8).all() and (search["errors"] == 0).all()
    assert search.groupby("build_variant")["recall_at_k"].nunique().eq(1).all()  # one graph per build
    assert search["latency_p99_ms"].isna().all() and search["latency_p50_ms"].notna().all()  # 20 samples
    tick = s[s["sweep"] == "tick"]
    assert set(tick["op"]) == {"search", "query", "insert_visible"} and len(tick) == 3 * 2 * 5
    strong = tick[tick["op"] == "search"]
    assert (strong["milvus_tsafe_wait_n"] >= 3).all() and (strong["milvus_tsafe_wait_ms"] > 0).all()  # Milvus's view
    assert (tick.loc[tick["op"] == "insert_visible", "lags_censored"] == 0).all()


def test_every_sweep_is_recorded_on_both_variants(smoke_run):
    s = pd.read_parquet(smoke_run / "summary.parquet")
    for variant, rows in s.groupby("variant"):
        by = rows.groupby("sweep")["op"].count().to_dict()
        assert {"concurrency": 4, "open_loop": 2, "search_params": 4, "consistency": 4, "shape": 6,
                "query_kind": 4}.items() <= by.items(), by
        params = rows[(rows["sweep"] == "search_params") & (rows["phase"] == "serial")].set_index("knob")
        assert params.loc[64.0, "recall_at_k"] >= params.loc[10.0, "recall_at_k"] > 0.3
        cons = rows[(rows["sweep"] == "consistency") & (rows["op"] == "search")].set_index("consistency_level")
        assert cons.loc["Strong", "latency_avg_ms"] > 10 * cons.loc["Eventually", "latency_avg_ms"]  # a tick
        opened = rows[rows["sweep"] == "open_loop"]
        assert sorted(opened["target_rps"]) == [50, 150] and (opened["concurrency"] == 2).all()
        assert (opened["completed"] <= opened["scheduled"]).all() and (opened["scheduled"] > 0).all()


def test_findings_have_a_verdict_over_start_pairs_for_every_run_time_metric(smoke_run):
    table = findings.findings(results.load_summary(smoke_run))
    over_starts = table[(table["unit"] == "start pair") & ~table["degenerate"].astype(bool)]
    assert len(over_starts) >= 10 and (over_starts["units"] == 5).all()
    assert set(over_starts["verdict"]) <= {"different", "equivalent", "inconclusive"}
    assert (over_starts["baseline"] == "rocksmq").all() and (over_starts["contender"] == "natsmq").all()
    assert "recall_at_k" not in set(over_starts["metric"])  # identical by construction: degenerate, no verdict
    assert (over_starts.loc[over_starts["verdict"] == "inconclusive", "reason"].str.len() > 0).all()  # says why
    recall = table[(table["metric"] == "recall_at_k") & (table["unit"] == "start pair")]
    assert len(recall) == 1 and recall["degenerate"].iloc[0] and recall["ratio"].iloc[0] == 1.0
    strong = over_starts[over_starts["what"].str.contains("Strong")]
    assert set(strong["metric"]) == {"latency_avg_ms", "milvus_tsafe_wait_ms", "milvus_qn_consume_tt_lag_ms"}
    assert len(strong) == 6  # search and query: the client's wait, and Milvus's own account of it, over start pairs
    errors = table[table["metric"] == "error_rate"]
    assert len(errors) and (errors["verdict"] == "insufficient data").all()  # no failed request: a bound
    assert errors["reason"].str.contains("a bound, not an equivalence").all()
    loads = table[table["what"] == "insert · load"]
    assert set(loads["metric"]) == {"rows_per_s", "server_rss_peak_mib", "server_cpu_s_per_gb"}  # and their costs
    assert (loads["verdict"] == "insufficient data").all()  # one build per variant
    parts = findings.components(results.load_summary(smoke_run))
    assert len(parts) and (parts["starts"] == 5).all() and (parts["starts_for_delta"] >= 5).all()
    crossed = findings.interaction(results.load_summary(smoke_run))
    assert len(crossed) and set(crossed["builds"]) == {"rocksmq ÷ natsmq"} and set(crossed["starts"]) <= {"2 + 3", "3 + 2"}


def test_raw_latencies_recompute_the_summary(smoke_run):
    s = pd.read_parquet(smoke_run / "summary.parquet")
    row = s[(s["op"] == "query") & (s["phase"] == "serial") & (s["sweep"] == "blocks")].iloc[0]  # start 0
    raw = pd.read_parquet(smoke_run / row["raw_file"])
    measured = raw[~raw["warmup"] & raw["ok"]]
    assert len(measured) == row["count"] == 20
    assert measured["latency_ns"].mean() / 1e6 == pytest.approx(row["latency_avg_ms"])
    opened = s[s["phase"] == "open_loop"].iloc[0]
    raw = pd.read_parquet(smoke_run / opened["raw_file"])
    sent = raw[raw["start_ns"] >= 0]
    assert (sent["latency_ns"] == sent["start_ns"] + sent["service_ns"] - sent["scheduled_ns"]).all()


def test_run_folder_manifest_and_report(smoke_run):
    manifest = json.loads((smoke_run / "manifest.json").read_text())
    assert manifest["mode"] == "grid" and len(manifest["cells"]) == 1 and manifest["order_seed"] == 1
    assert manifest["versions"]["milvus"] == "2.3.5" and len(manifest["lock_sha256"]) == 64
    html = (smoke_run / "report.html").read_text()
    assert html.index('id="the-answer"') < html.index("<nav") < html.index('id="findings"') < html.index(
        'id="run-parameters"')
    assert "23.55" in html and "definition unknown" in html and "data:image/png;base64" in html
    for section in ["Latency vs throughput", "Recall vs QPS", "Consistency levels", "Request shapes"]:
        assert section in html
    assert "Session.open" not in html and "import pandas" not in html  # no code
    assert (smoke_run.parent / "index.html").exists()


def test_export_as_vectordbbench_results(smoke_run, tmp_path):
    proc = mqbench("export", "--format", "vectordbbench", str(smoke_run), "--out", str(tmp_path), timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    ours = json.loads(Path(proc.stdout.strip()).read_text())
    theirs = json.loads((Path(__file__).parents[1] / "unit/data/vectordbbench-1.0.20-result.json").read_text())
    assert set(ours) == set(theirs) and len(ours["results"]) == 2
    case, ref = ours["results"][0], theirs["results"][0]
    assert set(case["metrics"]) == set(ref["metrics"]) and set(case["task_config"]) == set(ref["task_config"])
    by_label = {c["task_config"]["db_config"]["db_label"]: c["metrics"] for c in ours["results"]}
    assert by_label["mqbench-natsmq-r0"]["conc_num_list"] == [1, 2] and by_label["mqbench-rocksmq-r0"]["recall"] > 0.8


def test_explore_notebook_loads_filters_and_draws_a_run(smoke_run, tmp_path):
    """explore.ipynb, the JupyterLab starting point, over the smoke run: it loads, filters and draws."""
    import nbformat
    import papermill as pm
    from mqbench.run.runner import IPCKernelManager

    out, notebooks = tmp_path / "explore.ipynb", Path(__file__).resolve().parents[2] / "notebooks"
    pm.execute_notebook(str(notebooks / "explore.ipynb"), str(out), parameters={"runs": [str(smoke_run)],
                                                                                "where": "op == 'search'"},
                        cwd=str(notebooks), progress_bar=False, kernel_manager_class=IPCKernelManager)
    text = "".join(o.get("text", "") for c in nbformat.read(out, as_version=4).cells for o in c.get("outputs", []))
    assert f"from 1 runs: {smoke_run.name}" in text
    outputs = [o for c in nbformat.read(out, as_version=4).cells for o in c.get("outputs", [])]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the concurrency plot was drawn


# -- the pages, in a real browser --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pages(smoke_run, run_mqbench, tmp_path_factory):
    second = run_mqbench(smoke_run.parent / "second", grid_yaml="""
notebooks:
  - notebook: notebooks/pubsub.ipynb
    parameters: {shapes: ["64KB*50"], ops: 5, levels: [broker], nats_servers: [standalone], publish_modes: [strict]}
""")
    out = tmp_path_factory.mktemp("compare")
    proc = mqbench("compare", str(smoke_run), str(second), "--out", str(out), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == str(out / "compare.html")  # the path is printed last
    index = smoke_run.parent / "index.html"
    assert smoke_run.name in index.read_text() and second.name in index.read_text()  # both runs listed
    return {"report": smoke_run / "report.html", "compare": out / "compare.html", "index": index}


@pytest.fixture(scope="module")
def driver():
    d = browser()
    yield d
    close(d)


@pytest.mark.parametrize("name", ["report", "compare", "index"])
def test_page_reads_cleanly_in_a_real_browser(pages, driver, name):
    got = check_page(driver, pages[name])
    assert got["errors"] == [], got["errors"]
    assert got["broken_images"] == [] and got["dangling_links"] == []
    assert got["scroll_width"] <= got["window_width"], got  # wide tables scroll in their own box
    assert got["overflowing"] == [] and got["integers_with_decimals"] == [], got
    if name in ("report", "index"):
        top, table_top, height = got["answer"]
        assert top < height and table_top is not None and table_top < height, got["answer"]  # on the first screen
    if name == "report":
        assert got["first_h2"] == "The answer" and got["nav_links"] >= 6 and got["images"] >= 3
