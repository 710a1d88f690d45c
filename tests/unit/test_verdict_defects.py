"""One test per defect of the verdict review (issue 29), each on a summary built to show it; each failed before
its fix. Numbers follow the issue's list."""
import inspect

import numpy as np
import pandas as pd
import pytest
from mqbench.core.paths import PROJECT_ROOT
from mqbench.measure import lags, milvus_series
from mqbench.run import runner
from mqbench.stats import design, findings, metrics, verdicts
from mqbench.studies import pubsub, search_query
from scipy import stats


def _pair_rows(notebook, op, phase, values_b, values_c, metric, unit="start", **keys):
    rows = []
    for i, (b, c) in enumerate(zip(values_b, values_c)):
        for variant, index, value in (("rocksmq", 0, b), ("natsmq", 1, c)):
            rows.append({"run_id": "r", "notebook": notebook, "status": "ok", "variant": variant, "mq": variant,
                         "variant_index": index, "op": op, "phase": phase, "unit": unit, "start": i, "block": i,
                         metric: value, **keys})
    return rows


# 1. pub/sub through Milvus is compared over start pairs (its op waits for the time tick, fixed per start)
def test_1_pubsub_through_milvus_is_a_start_pair_comparison():
    rng = np.random.default_rng(0)
    rows = _pair_rows("pubsub", "pubsub", "milvus", 1 + rng.random(6) * 0.2, 1 + rng.random(6) * 0.2, "s_per_op",
                      shape="1MB*50")
    row = findings.findings(pd.DataFrame(rows)).set_index("metric").loc["s_per_op"]
    assert row["unit"] == "start pair" and row["units"] == 6
    assert "start_pair" in inspect.getsource(pubsub.milvus_level)  # both servers restart for every unit


def test_1_a_repeated_cells_start_pairs_are_units_of_their_own():
    """Every cell numbers its starts from 0: two repeats of three start pairs are six units, not three means."""
    rng = np.random.default_rng(1)
    rows = [dict(row, repeat=repeat) for repeat in (0, 1)
            for row in _pair_rows("search_query", "search", "serial", 10 + rng.random(3), 10 + rng.random(3),
                                  "latency_avg_ms", sweep="blocks")]
    table = findings.findings(pd.DataFrame(rows))
    row = table[(table["metric"] == "latency_avg_ms") & (table["unit"] == "start pair")].iloc[0]
    assert row["units"] == 6
    assert findings.components(pd.DataFrame(rows))["starts"].max() == 6


# 2. whole-millisecond histograms: no ratio of truncated means; the share above the first bucket, zeros kept
def test_2_produce_means_below_the_resolution_get_no_ratio_and_shares_keep_their_zeros():
    rows = _pair_rows("pubsub", "pubsub", "milvus", [0.035, 0.03, 0.04, 0.02, 0.05, 0.03],
                      [0.199, 0.21, 0.18, 0.22, 0.19, 0.2], "milvus_produce_ms", shape="64KB*500")
    shares = _pair_rows("pubsub", "pubsub", "milvus", [0.0, 0.0, 0.01, 0.0, 0.0, 0.0], [0.0, 0.01, 0.0, 0.0, 0.0, 0.0],
                        "milvus_produce_slow_share", shape="1KB*1000")
    table = findings.findings(pd.DataFrame(rows + shares)).set_index("metric")
    produce = table.loc["milvus_produce_ms"]
    assert produce["verdict"] == "insufficient data" and "resolution 1 ms" in produce["reason"]
    share = table.loc["milvus_produce_slow_share"]
    assert share["units"] == 6 and share["scale"] == "difference"  # every unit kept, zeros included
    assert share["verdict"] == "equivalent" and abs(share["difference"]) < 0.01


def test_2_the_slow_share_comes_from_the_first_bucket():
    cumulative = [(1.0, 90.0), (2.0, 98.0), (4.0, 100.0), (float("inf"), 100.0)]
    assert milvus_series.slow_share(cumulative) == pytest.approx(0.10)
    assert milvus_series.slow_share([]) is None


def test_2_a_flush_timed_by_half_second_polls_gets_no_ratio():
    rows = []
    for repeat in range(5):
        for variant, seconds in (("rocksmq", 4.0), ("natsmq", 2.5 + 0.5 * (repeat % 2))):
            rows.append({"notebook": "scale_curve", "status": "ok", "variant": variant, "mq": variant,
                         "variant_index": 0, "repeat": repeat, "op": "flush", "phase": "load", "duration_s": seconds})
    row = findings.findings(pd.DataFrame(rows)).iloc[0]
    assert row["verdict"] == "insufficient data" and "0.5 s" in row["reason"]


# 3. the build is never drawn by chance: every build served, alternating between start pairs
def test_3_builds_are_crossed_with_the_mqs_never_drawn():
    variants = design.parse_variants(["rocksmq", "natsmq"])
    assert search_query.served_builds({"own_builds": True, "builder": ""}, variants) == [0, 1]
    assert search_query.served_builds({"own_builds": False, "builder": ""}, variants) == [0]
    assert search_query.served_builds({"own_builds": False, "builder": "natsmq"}, variants) == [1]
    sequence = search_query.build_sequence(["rocksmq", "natsmq"], 6, 42)
    assert sorted(pd.Series(sequence).value_counts()) == [3, 3]
    assert search_query.build_sequence(["rocksmq", "natsmq"], 6, 42) == sequence  # fixed by the seed, not the run id


# 5. planning is t-based, for an 80% chance of "equivalent" at a true ratio of 1
@pytest.mark.parametrize("sd", [0.057, 0.093])
def test_5_units_needed_give_an_eighty_percent_chance_of_equivalent(sd):
    n = verdicts.units_needed(sd)
    rng = np.random.default_rng(5)
    hits = [verdicts.paired(np.ones(n), np.exp(rng.normal(0, sd, n))).verdict == "equivalent" for _ in range(2000)]
    assert np.mean(hits) >= 0.78, (n, np.mean(hits))
    old = int(np.ceil((1.96 * sd / np.log(1.05)) ** 2))  # the z-based half-width rule it replaces
    assert n > 2 * old


def test_5_an_undecided_row_says_how_many_units_would_decide_it():
    rng = np.random.default_rng(1)
    rows = _pair_rows("search_query", "search", "serial", np.ones(6), np.exp(rng.normal(0, 0.08, 6)),
                      "latency_avg_ms", sweep="blocks")
    row = findings.findings(pd.DataFrame(rows)).set_index("metric").loc["latency_avg_ms"]
    assert row["verdict"] == "inconclusive" and row["units_needed"] > 6
    assert f"about {int(row['units_needed'])} start pairs" in row["reading"]


# 6. zero failures are a bound, not an equivalence; failures cluster by start
def test_6_zero_failures_are_a_bound_and_a_burst_in_one_start_is_no_difference():
    rows = []
    for start in range(6):
        for variant, index in (("rocksmq", 0), ("natsmq", 1)):
            errors = 30 if (variant == "natsmq" and start == 2) else 0
            rows.append({"run_id": "r", "notebook": "search_query", "status": "ok", "variant": variant, "mq": variant,
                         "variant_index": index, "sweep": "blocks", "op": "search", "phase": "serial",
                         "unit": "start", "start": start, "block": start, "count": 100, "errors": errors,
                         "latency_avg_ms": 2.0 + 0.01 * start})
    burst = findings.findings(pd.DataFrame(rows)).set_index("metric").loc["error_rate"]
    pooled = stats.fisher_exact([[30, 570], [0, 600]])[1]
    assert pooled < 1e-6 and burst["verdict"] == "inconclusive"  # Fisher on pooled requests would call it
    clean = findings.findings(pd.DataFrame([{**r, "errors": 0} for r in rows])).set_index("metric").loc["error_rate"]
    assert clean["verdict"] == "insufficient data" and "a bound, not an equivalence" in clean["reason"]
    assert "0.50% per request" in clean["reason"]


# 7. units pair by key; the baseline is the first listed; a grid's warm-up cell never counts
def test_7_builds_pair_by_repeat_not_by_row_order():
    rng = np.random.default_rng(2)
    base = [100.0, 200.0, 300.0, 400.0, 500.0, 600.0]
    rows = []
    for repeat, value in enumerate(base):
        rows.append({"notebook": "scale_curve", "status": "ok", "variant": "rocksmq", "mq": "rocksmq",
                     "variant_index": 0, "repeat": repeat, "op": "insert", "phase": "load", "rows_per_s": value})
        if repeat != 2:  # natsmq's third build failed and was filtered
            rows.append({"notebook": "scale_curve", "status": "ok", "variant": "natsmq", "mq": "natsmq",
                         "variant_index": 0, "repeat": repeat, "op": "insert", "phase": "load",
                         "rows_per_s": value * 1.1 * np.exp(rng.normal(0, 0.005))})
    row = findings.findings(pd.DataFrame(rows)).iloc[0]
    assert row["units"] == 5 and row["ratio"] == pytest.approx(1.1, rel=0.01)


def test_7_ties_take_the_registry_order_so_the_ratio_is_natsmq_over_rocksmq():
    rows = [{"notebook": "scale_curve", "status": "ok", "variant": v, "mq": v, "variant_index": 0, "repeat": r,
             "op": "insert", "phase": "load", "rows_per_s": 100.0 + r} for v in ("natsmq", "rocksmq") for r in range(5)]
    row = findings.findings(pd.DataFrame(rows)).iloc[0]
    assert (row["baseline"], row["contender"]) == ("rocksmq", "natsmq")


def test_7_a_grid_warmup_cell_runs_first_and_never_counts():
    grid = {"notebooks": [{"notebook": "notebooks/scale_curve.ipynb", "warmup": True, "repeats": 2,
                           "parameters": {"ingest_only": True}, "grid": {"mq": ["rocksmq", "natsmq"]}}]}
    cells = runner.expand_grid(grid, PROJECT_ROOT)
    assert cells[0].params["repeat"] == -1 and [c.params["repeat"] for c in cells[1:]].count(-1) == 0
    rows = [{"notebook": "scale_curve", "status": "ok", "variant": v, "mq": v, "variant_index": 0, "repeat": r,
             "op": "insert", "phase": "load", "rows_per_s": (10.0 if r < 0 else 100.0 + r + (v == "natsmq"))}
            for v in ("natsmq", "rocksmq") for r in range(-1, 5)]
    assert findings.findings(pd.DataFrame(rows)).iloc[0]["units"] == 5


# 8. equivalence is corrected over its family; degenerate rows decide nothing
def test_8_equivalence_is_corrected_over_the_run():
    table = pd.DataFrame({"verdict": "equivalent", "ratio": 1.0, "ci_low": 0.96, "ci_high": 1.04, "units": 6,
                          "p_value": 0.9, "p_equivalent": [0.04] + [0.9] * 19, "scale": "ratio"})
    table.loc[1:, ["ci_low", "ci_high"]] = [0.8, 1.2]
    settled = verdicts.settle(table)
    assert settled["verdict"].iloc[0] == "inconclusive" and "Benjamini-Hochberg" in settled["reason"].iloc[0]
    alone = verdicts.settle(table.iloc[:1])
    assert alone["verdict"].iloc[0] == "equivalent"


def test_8_named_families_are_corrected_apart_at_their_share_of_alpha():
    table = pd.DataFrame({"verdict": "different", "ratio": 1.3, "ci_low": 1.1, "ci_high": 1.5, "units": 6,
                          "p_value": [0.03] + [0.5] * 19, "p_equivalent": 1.0, "scale": "ratio",
                          "family": ["primary"] + ["secondary"] * 19})
    settled = verdicts.settle(table)
    assert settled["verdict"].iloc[0] == "different" and settled["alpha"].iloc[0] == 0.04  # alone in its family
    secondary = settled.iloc[1:].assign(p_value=0.03, family="secondary")
    again = verdicts.settle(pd.concat([settled.iloc[:1], secondary]))
    assert (again["verdict"].iloc[1:] == "inconclusive").all() and "secondary family" in again["reason"].iloc[1]
    assert sum(verdicts.FAMILY_ALPHA.values()) == pytest.approx(verdicts.ALPHA)


def test_8_identical_by_construction_is_degenerate_and_not_counted():
    v = verdicts.paired([0.9] * 6, [0.9] * 6)
    assert v.verdict == "insufficient data" and v.degenerate and v.reason == verdicts.DEGENERATE


# 9. censored lags are censoring, not numbers
def test_9_a_censored_batch_withholds_the_mean_and_the_km_median_carries_it():
    rows = _pair_rows("freshness_recovery", "insert_visible", "tick", [200, 210, 190, 205, 195, 200],
                      [205, 60000, 195, 200, 200, 210], "lag_avg_ms", consistency_level="Strong", batch_rows=1)
    for r in rows:
        r["lags_censored"] = int(r["lag_avg_ms"] == 60000)
        r["lag_km_median_ms"] = 200.0 + r["start"] + (r["variant"] == "natsmq")
        r["lag_median_censored"] = 0
    table = findings.findings(pd.DataFrame(rows)).set_index("metric")
    assert table.loc["lag_avg_ms", "verdict"] == "insufficient data" and "lower bound" in table.loc["lag_avg_ms", "reason"]
    assert table.loc["lag_km_median_ms", "verdict"] in {"equivalent", "different", "inconclusive"}


def test_9_the_km_median_of_lags_with_a_timeout():
    batches = pd.DataFrame({"lag_ms": [100, 150, 200, 250, 60000, 60000], "ack_ms": 1.0,
                            "visible": [True, True, True, True, False, False]})
    summary = lags.lag_summary(batches)
    assert summary["lags_censored"] == 2 and 150 <= summary["lag_km_median_ms"] <= 250
    assert np.isnan(metrics.km_median([100, 60000, 60000, 60000], [True, False, False, False]))
