"""Calibration of the verdicts through the exact path the report uses (``findings.findings``), on summaries shaped
like ``search_query``'s start pairs, with what broke the old design in the simulation: a fixed offset per server
start (σ up to 0.03 in log) and per index build, host drift shared by a block, and noise per measurement. Under no
MQ effect a run must call "different" at most 5% of the time, for every one of 20 seeds (a one-sided binomial
test at 0.1% per seed); identical units never give "different"; the published A/A run has none."""
import numpy as np
import pandas as pd
import pytest
from mqbench.report import statements
from mqbench.stats import findings, verdicts
from scipy import stats

REPORTS = statements.REPORTS
PHASES = {("search", "serial"): ["latency_avg_ms", "latency_p50_ms"], ("query", "serial"): ["latency_avg_ms", "latency_p50_ms"],
          ("search", "concurrent"): ["latency_avg_ms", "latency_p50_ms", "rps"],
          ("query", "concurrent"): ["latency_avg_ms", "latency_p50_ms", "rps"]}


def simulated_run(rng, effect: float = 1.0, starts: int = 6, blocks: int = 2, sd_start: float = 0.03,
                  sd_build: float = 0.03, sd_drift: float = 0.02, sd_block: float = 0.03) -> pd.DataFrame:
    """One run's summary rows: one build (its offset shared by both variants, as the served build is), pairs of
    starts with an offset per server start, blocks with a drift shared by both servers and noise per row."""
    rows, build = [], rng.normal(0, sd_build)
    for start in range(starts):
        offsets = rng.normal(0, sd_start, 2)
        for b in range(blocks):
            block = start * blocks + b
            for (op, phase), metrics in PHASES.items():
                drift = rng.normal(0, sd_drift)
                for index, variant in enumerate(("rocksmq", "natsmq")):
                    scale = (effect if index else 1.0) * np.exp(build + offsets[index] + drift)
                    values = {m: (100.0 if m == "rps" else 2.0) * (1 / scale if m == "rps" else scale)
                              * np.exp(rng.normal(0, sd_block)) for m in metrics}
                    rows.append({"run_id": "sim", "notebook": "search_query", "status": "ok", "variant": variant,
                                 "mq": variant, "variant_index": index, "sweep": "blocks", "op": op, "phase": phase,
                                 "concurrency": 4 if phase == "concurrent" else 0, "unit": "start", "start": start,
                                 "block": block, "count": 50, "errors": 0, **values})
    return pd.DataFrame(rows)


SEEDS, RUNS = range(20), 40


@pytest.fixture(scope="module")
def false_alarms():
    """Per seed: how many of RUNS simulated A/A runs had any "different" in their Findings."""
    counts = {}
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        counts[seed] = sum((findings.findings(simulated_run(rng))["verdict"] == "different").any() for _ in range(RUNS))
    return counts


@pytest.mark.parametrize("seed", SEEDS)
def test_no_mq_effect_gives_at_most_five_percent_false_different(false_alarms, seed):
    false = false_alarms[seed]
    assert stats.binomtest(false, RUNS, 0.05, alternative="greater").pvalue > 0.001, f"{false}/{RUNS} runs"


def test_pooled_false_different_rate_is_within_five_percent(false_alarms, capsys):
    false, runs = sum(false_alarms.values()), RUNS * len(SEEDS)
    with capsys.disabled():
        print(f"\nsimulated A/A runs with any 'different': {false}/{runs} = {false / runs:.3f}")
    assert stats.binomtest(false, runs, 0.05, alternative="greater").pvalue > 0.001


def test_a_real_effect_is_found(capsys):
    rng = np.random.default_rng(99)
    found = [findings.findings(simulated_run(rng, effect=1.15)) for _ in range(20)]
    power = np.mean([(t.loc[t["metric"] == "latency_avg_ms", "verdict"] == "different").mean() for t in found])
    with capsys.disabled():
        print(f"\npower at a 15% effect, 6 start pairs, σ 0.03 per start: {power:.2f} of latency comparisons")
    assert power > 0.5


def test_identical_units_never_give_different():
    assert verdicts.paired([.88] * 16, [.90] * 16).verdict == "insufficient data"
    same = verdicts.paired([.88] * 16, [.88] * 16)
    assert same.verdict == "equivalent" and same.ratio == 1.0


def test_the_published_aa_run_has_no_difference():
    roles = statements.roles()
    assert "aa" in roles, "reports/ must hold a published A/A run (make run GRID=data/grids/aa.yaml), role aa"
    summary = pd.read_parquet(REPORTS / roles["aa"] / "summary.parquet")
    assert {v.split(" ")[0] for v in summary["variant"].dropna()} == {"rocksmq-1", "rocksmq-2"}  # both RocksMQ
    table = findings.findings(summary)
    assert len(table) and not (table["verdict"] == "different").any(), table[table["verdict"] == "different"]
