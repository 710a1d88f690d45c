import numpy as np
import pandas as pd
import pytest

from mqbench import report


def _summary():
    rows = []
    for mq, lat, rps in [("rocksmq", 4.0, 100.0), ("natsmq", 2.0, 200.0)]:
        for repeat in (0, 1):
            base = {"notebook": "search_query", "mq": mq, "repeat": repeat, "status": "ok"}
            rows.append({**base, "op": "search", "phase": "serial", "concurrency": 0, "latency_avg_ms": lat + repeat})
            rows.append({**base, "op": "query", "phase": "serial", "concurrency": 0, "latency_avg_ms": lat / 2})
            for c in (1, 2):
                rows.append({**base, "op": "search", "phase": "concurrent", "concurrency": c, "rps": rps * c})
                rows.append({**base, "op": "query", "phase": "concurrent", "concurrency": c, "rps": rps * c / 2})
            rows.append({**base, "op": "insert", "phase": "load", "concurrency": 0, "duration_s": 3.0,
                         "rows_per_s": 1000.0})
    rows.append({"mq": "natsmq", "repeat": 2, "status": "failed", "op": "search", "phase": "serial",
                 "latency_avg_ms": 999.0})
    return pd.DataFrame(rows)


def test_table2_has_seed_beside_ours_and_ratios():
    t = report.table2(_summary()).set_index(["metric", "mq"])
    row = t.loc[("search_latency_avg", "rocksmq")]
    assert row["ours_median"] == pytest.approx(4.5) and row["ours_min"] == 4 and row["ours_max"] == 5
    assert row["seed_100M"] == pytest.approx(23.55)
    assert t.loc[("search_rps", "natsmq"), "ours_median"] == 400  # peak over the sweep
    assert t.loc[("search_latency_avg", "natsmq"), "ours_max"] == 3  # the failed row is not counted
    assert t.loc[("search_latency_avg", "natsmq"), "ours_nats_over_rocks"] == pytest.approx(2.5 / 4.5)
    assert t.loc[("search_latency_avg", "natsmq"), "seed_nats_over_rocks"] == pytest.approx(20.17 / 23.55)
    assert t.loc[("search_latency_avg", "natsmq"), "verdict"] == "NATS lower"  # 2-3 ms vs 4-5 ms
    assert t.loc[("search_rps", "natsmq"), "verdict"] == "NATS higher"


def test_ratio_interval_contains_one_when_the_sides_overlap():
    low, high = report.ratio_interval(np.array([1.0, 1.2, 0.9]), np.array([1.1, 0.95, 1.05]))
    assert low < 1 < high


def test_load_phases_and_sweep():
    s = _summary()
    assert report.load_phases(s)["op"].tolist() == ["insert", "insert"]
    sw = report.sweep(s)
    assert set(sw["concurrency"]) == {0, 1, 2}
