"""Open-loop schedules, sweep labels and the report's sweep tables, on synthetic summaries (no server)."""
import numpy as np
import pandas as pd
import pytest

from mqbench import report, sweeps, workload
from test_bad_input_catalogue import SEARCH_QUERY_DEFAULTS


def test_defaults_pass_the_checks():
    sweeps.check(SEARCH_QUERY_DEFAULTS, dim=50, embedded=True)
    sweeps.check({**SEARCH_QUERY_DEFAULTS, "index_type": "DISKANN", "index_params": {}, "search_params": {},
                  "search_param_sweep": [{"search_list": 20}]}, dim=50, embedded=False)


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
    assert sweeps.label({"nq": 10, "k": 5}) == "nq=10, k=5" and sweeps.label({}) == "default"
    assert sweeps.knob_value("HNSW", {"ef": 32}) == 32.0 and sweeps.knob_value("IVF_PQ", {"nprobe": 4}) == 4.0
    assert sweeps.knob_value("FLAT", {}) is None
    spec = workload.Spec("search", "c", queries=np.zeros((2, 3)))
    assert sweeps.shape_spec(spec, {"nq": 2, "filter": "attr < 3"}).nq == 2 and spec.nq == 1


def test_knee_is_the_highest_rate_kept_up_with():
    rows = []
    for mq, limit in [("rocksmq", 400), ("natsmq", 250)]:
        for target in [100, 200, 300, 400, 500]:
            rows.append(dict(mq=mq, repeat=0, status="ok", op="search", phase="open_loop", sweep="open_loop",
                             concurrency=4, target_rps=target, rps=min(target, limit) * 0.99, not_sent=0,
                             latency_p99_ms=5 if target <= limit else 500))
    knee = report.knee(pd.DataFrame(rows)).set_index("mq")
    assert knee.loc["rocksmq", "knee_target_rps"] == 400 and knee.loc["natsmq", "knee_target_rps"] == 200
    assert not knee["highest_rate_tried"].any()
    below = report.knee(pd.DataFrame([r for r in rows if r["target_rps"] <= 200])).set_index("mq")
    assert below["highest_rate_tried"].all()  # kept up with every rate tried: the knee is above


def test_recall_qps_joins_serial_recall_with_concurrent_rps():
    rows = []
    for ef, recall, rps in [(16, 0.7, 900), (64, 0.95, 600)]:
        common = dict(mq="natsmq", repeat=0, status="ok", op="search", sweep="search_params", variant=f"ef={ef}",
                      knob=float(ef))
        rows += [dict(common, phase="serial", recall_at_k=recall, latency_avg_ms=2.0),
                 dict(common, phase="concurrent", concurrency=4, rps=rps, latency_p99_ms=9.0)]
    table = report.recall_qps(pd.DataFrame(rows))
    assert table[["knob", "recall_at_k", "rps"]].values.tolist() == [[16, 0.7, 900], [64, 0.95, 600]]


def test_consistency_table_gives_a_verdict_per_level():
    rows = []
    for repeat in range(4):
        for mq, strong in [("rocksmq", 200 + repeat), ("natsmq", 400 + repeat)]:
            for level, latency in [("Strong", strong), ("Bounded", 2.0 + repeat * 0.1)]:
                rows.append(dict(mq=mq, repeat=repeat, status="ok", op="search", phase="serial",
                                 sweep="consistency", consistency_level=level, latency_p50_ms=latency,
                                 latency_p99_ms=latency, latency_avg_ms=latency))
    table = report.consistency(pd.DataFrame(rows)).set_index(["consistency_level", "mq"])
    assert table.loc[("Strong", "natsmq"), "verdict"] == "NATS higher"
    assert table.loc[("Strong", "natsmq"), "nats_over_rocks"] == pytest.approx(401.5 / 201.5)
    assert table.loc[("Bounded", "rocksmq"), "verdict"] == "within noise"


def test_table2_ignores_the_other_sweeps():
    rows = [dict(mq=mq, repeat=0, status="ok", op="search", phase="concurrent", sweep=sweep, concurrency=2,
                 rps=rps) for mq in ["rocksmq", "natsmq"] for sweep, rps in [("concurrency", 100), ("shape", 999)]]
    t2 = report.table2(pd.DataFrame(rows))
    assert (t2.loc[t2["metric"] == "search_rps", "ours_median"] == 100).all()


def test_sweep_tables_are_empty_for_runs_without_search_query():
    pubsub = pd.DataFrame([dict(notebook="pubsub", mq="natsmq", repeat=0, status="ok", op="pubsub", phase="broker",
                                variant="async", concurrency=0)])
    for table in (report.recall_qps, report.consistency, report.shapes, report.knee, report.latency_vs_rps):
        assert table(pubsub).empty, table.__name__
