"""Calibration of the verdict procedure by simulation: false alarms under no effect, power under a known one."""
import numpy as np
import pandas as pd
import pytest
from mqbench.stats import verdicts


def test_no_effect_gives_at_most_five_percent_false_different_per_comparison():
    sim = verdicts.simulate([1.0], units=10, noise_cv=0.05, drift_cv=0.05, runs=4000, seed=1)
    rate = (sim["verdict"] == "different").mean()
    assert rate <= 0.05, rate


def test_a_run_of_twenty_null_metrics_rarely_reports_any_difference():
    sim = verdicts.simulate([1.0] * 20, units=10, noise_cv=0.05, drift_cv=0.05, runs=500, seed=2)
    family_rate = sim.groupby("run")["verdict"].apply(lambda v: (v == "different").any()).mean()
    assert family_rate <= 0.06, family_rate  # Benjamini-Hochberg under the global null: about alpha = 5%


def test_power_at_a_ten_percent_effect_is_reported(capsys):
    sim = verdicts.simulate([1.10] + [1.0] * 9, units=12, noise_cv=0.05, drift_cv=0.05, runs=500, seed=3)
    power = (sim[sim["metric"] == 0]["verdict"] == "different").mean()
    with capsys.disabled():
        print(f"\npower of the defaults (12 blocks, 5% noise per side) at a 10% effect among 10 metrics: {power:.2f}")
    assert power > 0.5


def test_verdicts_of_known_intervals():
    assert verdicts.decide(0.97, 1.03, 0.05) == "equivalent"
    assert verdicts.decide(1.06, 1.20, 0.05) == "different"
    assert verdicts.decide(1.01, 1.04, 0.05) == "equivalent"  # resolved but negligible
    assert verdicts.decide(1.02, 1.09, 0.05) == "different"
    assert verdicts.decide(0.90, 1.10, 0.05) == "inconclusive"


def test_fewer_than_five_units_is_insufficient_data():
    v = verdicts.paired([1, 2, 3, 4], [2, 4, 6, 8])
    assert v.verdict == "insufficient data" and v.ratio == pytest.approx(2.0) and "needs 5" in v.reason
    assert np.isnan(v.ci_low)


def test_paired_ratio_is_the_geometric_mean_with_a_t_interval():
    base = np.array([10.0, 11, 9, 10.5, 9.5, 10.2])
    v = verdicts.paired(base, base * 1.5)
    assert v.ratio == pytest.approx(1.5) and v.ci_low == pytest.approx(1.5) and v.verdict == "different"


def test_compare_pivots_blocks_and_corrects_the_family():
    rows = []
    rng = np.random.default_rng(0)
    for block in range(8):
        for variant, index, scale in [("rocksmq", 0, 1.0), ("natsmq", 1, 1.3)]:
            rows.append({"block": block, "variant": variant, "variant_index": index, "op": "search",
                         "rps": 100 * scale * (1 + 0.02 * rng.standard_normal()),
                         "latency_avg_ms": 2.0 * (1 + 0.02 * rng.standard_normal())})
    table = verdicts.compare(pd.DataFrame(rows), ["rps", "latency_avg_ms"], ["op"]).set_index("metric")
    assert table.loc["rps", "verdict"] == "different" and table.loc["rps", "ratio"] == pytest.approx(1.3, rel=0.03)
    assert table.loc["latency_avg_ms", "verdict"] == "equivalent"
    assert (table["baseline"] == "rocksmq").all() and table.loc["rps", "units"] == 8


def test_percentiles_need_enough_samples():
    assert [verdicts.min_samples(q) for q in (50, 95, 99, 99.9)] == [20, 200, 1000, 10000]
