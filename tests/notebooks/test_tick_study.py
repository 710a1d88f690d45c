"""freshness_recovery.ipynb's time-tick study at tiny size: 5 starts per MQ, every start sampled and killed,
one verdict per kind over pairs of starts."""
import pandas as pd
import pytest
from mqbench.report import tables
from mqbench.stats import findings


@pytest.fixture(scope="module")
def tick_run(tmp_path_factory, run_mqbench):
    return run_mqbench(tmp_path_factory.mktemp("runs") / "tick", grid_yaml="""
notebooks:
  - notebook: notebooks/freshness_recovery.ipynb
    parameters: {dim: 8, tick_starts: 5, tick_samples: 4, tick_gap_s: 0.05, consistency_levels: [Strong],
                 batch_rows_list: [1], batches: 1, writer_rows_per_s: 0, mixed_consistency_levels: [],
                 growth_rows: 0, recovery_rows: 0}
""")


def test_the_tick_study_samples_every_start_and_kills_it(tick_run):
    s = pd.read_parquet(tick_run / "summary.parquet")
    tick = tables.tick(s)
    assert set(tick["kind"]) == {"Strong search", "Strong query", "insert→visible"}
    assert tick.groupby(["kind", "variant"])["block"].nunique().eq(5).all()
    assert (tick["mean_ms"] > 0).all() and (tick["samples"] == 4).all()
    stops = s[(s["op"] == "server_stop")]
    assert len(stops) == 12 and (stops["stop_method"] == "killed").all()  # throwaway servers are killed, and say so
    starts = s[s["op"] == "server_start"]
    assert starts.loc[starts["launch_order"] == 0, "variant"].value_counts().min() >= 2  # launch order balanced
    assert (s.loc[s["phase"] == "tick", "interleaved"] == True).all()  # noqa: E712 - samples server by server
    verdicts = findings.findings(s)
    over_starts = verdicts[verdicts["what"].str.contains("tick") & (verdicts["unit"] == "start pair")]
    assert len(over_starts) == 4 and (over_starts["units"] == 5).all()  # Strong search, query; lag mean, KM median
    assert set(over_starts["metric"]) == {"latency_avg_ms", "lag_avg_ms", "lag_km_median_ms"}
    assert set(over_starts["verdict"]) <= {"different", "equivalent", "inconclusive"}
    assert "The time tick over many server starts" in (tick_run / "report.html").read_text()
