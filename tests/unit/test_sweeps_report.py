"""Open-loop schedules, sweep labels, the report's tables and the Findings, on synthetic summaries (no server)."""
import numpy as np
import pandas as pd
import pytest
from mqbench.core import results
from mqbench.measure import workload
from mqbench.report import tables
from mqbench.stats import findings
from mqbench.studies import search_query


@pytest.mark.parametrize("arrivals", ["constant", "poisson"])
def test_arrival_schedule_has_the_target_rate(arrivals):
    offsets = workload.arrival_offsets(500, 20.0, arrivals, seed=3)
    assert np.all(np.diff(offsets) >= 0) and offsets[-1] < 20e9
    assert len(offsets) == pytest.approx(10_000, rel=0.05)
    gaps = np.diff(offsets) / 1e9
    assert gaps.mean() == pytest.approx(1 / 500, rel=0.05)
    if arrivals == "poisson":  # exponential gaps: standard deviation equals the mean
        assert gaps.std() == pytest.approx(gaps.mean(), rel=0.1)
    else:
        assert gaps.std() < 1e-6


def test_labels_and_knobs():
    assert search_query.label({"nq": 10, "k": 5}) == "nq=10, k=5" and search_query.label({}) == "default"
    assert search_query.knob_value("HNSW", {"ef": 32}) == 32.0
    assert search_query.knob_value("IVF_PQ", {"nprobe": 4}) == 4.0 and search_query.knob_value("FLAT", {}) is None


def _blocks(effect=1.0, noise=0.02, blocks=10, strong=False, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for block in range(blocks):
        for variant, index, scale in [("rocksmq", 0, 1.0), ("natsmq", 1, effect)]:
            common = dict(notebook="search_query", variant=variant, mq=variant, variant_index=index, status="ok",
                          sweep="blocks", block=block, consistency="Strong" if strong else "Bounded", data_n=1000,
                          delta=0.05)
            rows.append({**common, "op": "search", "phase": "serial", "concurrency": 0,
                         "latency_avg_ms": 2.0 * scale * (1 + noise * rng.standard_normal()),
                         "latency_p50_ms": 2.0 * scale, "recall_at_k": 0.9})
            rows.append({**common, "op": "search", "phase": "concurrent", "concurrency": 4,
                         "rps": 1000 / scale * (1 + noise * rng.standard_normal())})
    return pd.DataFrame(rows)


def test_findings_put_the_different_ones_first_with_a_reading():
    table = findings.findings(_blocks(effect=1.3))
    assert table["verdict"].iloc[0] == "different" and table["units"].iloc[0] == 10
    top = table[table["metric"] == "latency_avg_ms"].iloc[0]
    assert top["ratio"] == pytest.approx(1.3, rel=0.05) and "higher than rocksmq's (worse)" in top["reading"]
    recall = table[table["metric"] == "recall_at_k"].iloc[0]  # one graph per server: no verdict from blocks
    assert recall["verdict"] == "insufficient data" and recall["units"] == 1 and "index build" in recall["reason"]


def test_strong_reads_get_no_verdict_from_blocks_within_one_start():
    table = findings.findings(_blocks(effect=2.0, strong=True))
    assert (table["verdict"] == "insufficient data").all() and table["reason"].str.contains("server start").all()


def test_start_pairs_of_the_tick_study_do_get_verdicts():
    rows = [dict(notebook="freshness_recovery", variant=v, mq=v, variant_index=i, status="ok", op="search",
                 phase="tick", consistency_level="Strong", unit="start", block=b,
                 latency_avg_ms=(300 if v == "natsmq" else 200) + 5 * ((b * 7 + i) % 3))
            for b in range(8) for i, v in enumerate(["rocksmq", "natsmq"])]
    table = findings.findings(pd.DataFrame(rows))
    assert table.iloc[0]["verdict"] == "different" and table.iloc[0]["units"] == 8


def test_table2_pools_the_blocks():
    t2 = tables.table2(_blocks()).set_index(["metric", "variant"])
    assert t2.loc[("search_latency_avg", "rocksmq"), "ours"] == pytest.approx(2.0, rel=0.02)
    assert t2.loc[("search_rps", "natsmq"), "rows_behind"] == 10
    assert t2.loc[("search_latency_avg", "rocksmq"), "seed_100M"] == pytest.approx(23.55)


def test_knee_is_the_highest_rate_kept_up_with():
    rows = []
    for variant, limit in [("rocksmq", 400), ("natsmq", 250)]:
        for target in [100, 200, 300, 400, 500]:
            done = min(target, limit) * 5
            rows.append(dict(notebook="search_query", variant=variant, mq=variant, status="ok", op="search",
                             phase="open_loop", sweep="open_loop", concurrency=4, target_rps=target,
                             rps=done / 5, scheduled=target * 5, completed=done, not_sent=0, block=0,
                             latency_p99_ms=5 if target <= limit else 500))
    knee = tables.knee(pd.DataFrame(rows)).set_index("variant")
    assert knee.loc["rocksmq", "knee_target_rps"] == 400 and knee.loc["natsmq", "knee_target_rps"] == 200
    assert not knee["highest_rate_tried"].any()


def test_recall_qps_joins_serial_recall_with_concurrent_rps():
    rows = []
    for ef, recall, rps in [(16, 0.7, 900), (64, 0.95, 600)]:
        common = dict(notebook="search_query", variant="natsmq", mq="natsmq", status="ok", op="search",
                      sweep="search_params", point=f"ef={ef}", knob=float(ef), block=0)
        rows += [dict(common, phase="serial", recall_at_k=recall, latency_avg_ms=2.0),
                 dict(common, phase="concurrent", concurrency=4, rps=rps, latency_p99_ms=9.0)]
    table = tables.recall_qps(pd.DataFrame(rows))
    assert table[["knob", "recall_at_k", "rps"]].values.tolist() == [[16, 0.7, 900], [64, 0.95, 600]]


def test_sweep_tables_are_empty_for_runs_without_search_query():
    pubsub = results.with_base(pd.DataFrame([dict(notebook="pubsub", mq="natsmq", repeat=0, status="ok", op="pubsub",
                                                 phase="broker", concurrency=0)]))
    for table in (tables.recall_qps, tables.consistency, tables.shapes, tables.knee, tables.latency_vs_rps,
                  tables.table2, tables.sweep):
        assert table(pubsub).empty, table.__name__
