"""Calibration of every verdict path through the exact code a report uses (``findings.findings``), on simulated
runs shaped like the notebooks' (``mqbench.stats.calibrate``): start pairs with build and start offsets, heavy
tails and an MQ × build interaction; ops in blocks; builds with a cold warm-up; the time tick with censored lags;
failures clustered by start; Milvus's whole-millisecond produce histogram and pub/sub through Milvus over start
pairs.

Under no MQ effect a run may call "different" at most 5% of the time. Per path, 20 seeds × 75 runs: the pooled
count must pass an exact one-sided binomial test at 1% — tight enough that a true 7% rate fails with probability
≥ 80% (checked below, not assumed) — and each seed a coarse one at 0.1%. Power curves: tests/benchmarks/
bench_calibration.py. Every published A/A run is read too: none may report "different"."""
import numpy as np
import pandas as pd
import pytest
from mqbench.report import statements
from mqbench.stats import calibrate, findings, verdicts
from scipy import stats

SEEDS, RUNS = range(20), 75
POOLED = RUNS * len(SEEDS)
CRITICAL = int(stats.binom.isf(0.01, POOLED, 0.05)) + 1  # fail at this many runs with any "different"


def test_the_tolerance_catches_a_seven_percent_false_alarm_rate():
    assert stats.binom.sf(CRITICAL - 1, POOLED, 0.05) <= 0.01
    assert stats.binom.sf(CRITICAL - 1, POOLED, 0.07) >= 0.8


@pytest.fixture(scope="module")
def false_alarms():
    """Per path and seed: how many of RUNS simulated A/A runs had any "different" in their Findings."""
    return {path: {seed: calibrate.verdict_rates(path, seed, RUNS)["any_different"] for seed in SEEDS}
            for path in calibrate.PATHS}


@pytest.mark.parametrize("path", list(calibrate.PATHS))
def test_no_mq_effect_gives_at_most_five_percent_false_different(false_alarms, path, capsys):
    per_seed = false_alarms[path]
    pooled = sum(per_seed.values())
    with capsys.disabled():
        print(f"\n{path}: simulated A/A runs with any 'different': {pooled}/{POOLED} = {pooled / POOLED:.3f} "
              f"(fails at {CRITICAL})")
    assert pooled < CRITICAL, f"{pooled}/{POOLED}"
    worst = max(per_seed.values())
    assert stats.binomtest(worst, RUNS, 0.05, alternative="greater").pvalue > 0.001, per_seed


def test_a_real_effect_is_found_on_start_pairs_despite_the_interaction():
    rates = calibrate.verdict_rates("start pair", 99, 40, effect=1.15)
    assert rates["different"] / rates["comparisons"] > 0.5, rates


def test_identical_units_are_degenerate_never_equivalent():
    assert verdicts.paired([.88] * 16, [.90] * 16).verdict == "insufficient data"
    same = verdicts.paired([.88] * 16, [.88] * 16)
    assert same.verdict == "insufficient data" and same.degenerate and same.ratio == 1.0


def _same_mq(summary: pd.DataFrame) -> bool:
    """An A/A run: one MQ, one Milvus release, several variants (two releases side by side are an A/B run)."""
    mqs = summary["mq"].dropna().unique() if "mq" in summary else []
    releases = summary["milvus_version"].dropna().unique() if "milvus_version" in summary else []
    return len(mqs) == 1 and len(releases) <= 1 and summary["variant"].dropna().nunique() > 1


def test_every_published_aa_run_has_no_difference():
    roles = statements.roles()
    assert "aa" in roles, "reports/ must hold a published A/A run (make run GRID=data/grids/aa.yaml), role aa"
    read = 0
    for run in sorted({*roles.values()}):
        summary = pd.read_parquet(statements.REPORTS / run / "summary.parquet")
        if not _same_mq(summary):
            continue
        table = findings.findings(summary)
        assert len(table) and not (table["verdict"] == "different").any(), table[table["verdict"] == "different"]
        read += 1
    assert read >= 1


def test_heavy_tails_and_offsets_are_in_the_simulation():
    """The simulation is not i.i.d. normal pairs: a start pair's log ratio has the interaction's ± and start
    offsets (its spread is larger than the rows' noise alone)."""
    rows = calibrate.runs("start pair", 0, 30)
    rows = rows[(rows["op"] == "search") & (rows["phase"] == "serial")]
    wide = rows.pivot_table(index=["run_id", "start"], columns="variant", values="latency_avg_ms")
    d = np.log(wide["natsmq"] / wide["rocksmq"])
    assert d.std() > 2 * calibrate.SD_ROW
    assert stats.kurtosis(d) > 0.5  # heavier than normal
