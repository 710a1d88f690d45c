"""freshness_recovery.ipynb at tiny size: the time tick over 5 starts per MQ, lags, search while inserting,
sustained ingest and recovery, asserting on what was recorded."""
import pandas as pd
import pytest

from mqbench import findings, report


@pytest.fixture(scope="module")
def fresh_run(tmp_path_factory, run_mqbench):
    return run_mqbench(tmp_path_factory.mktemp("runs") / "fresh", grid_yaml="""
notebooks:
  - notebook: notebooks/freshness_recovery.ipynb
    parameters: {dim: 8, tick_starts: 5, tick_samples: 4, tick_gap_s: 0.05, consistency_levels: [Strong, Eventually],
                 batch_rows_list: [1, 50], batches: 3, writer_rows_per_s: 200.0, writer_batch_rows: 20,
                 mixed_consistency_levels: [Strong], mixed_concurrency: 1, mixed_window_s: 2.0, growth_rows: 2000,
                 growth_batch_rows: 500, server_overrides: {common.session.ttl: 10}, recovery_rows: 600,
                 recovery_batch_rows: 200}
""")


def test_the_tick_study_samples_every_start_and_kills_it(fresh_run):
    s = pd.read_parquet(fresh_run / "summary.parquet")
    tick = report.tick(s)
    assert set(tick["kind"]) == {"Strong search", "Strong query", "insert→visible"}
    assert tick.groupby(["kind", "variant"])["block"].nunique().eq(5).all()
    assert (tick["mean_ms"] > 0).all() and (tick["samples"] == 4).all()
    stops = s[(s["op"] == "server_stop")]
    assert len(stops) == 12 and (stops["stop_method"] == "killed").all()  # throwaway servers are killed, and say so
    verdicts = findings.findings(s)
    over_starts = verdicts[verdicts["what"].str.contains("tick")]
    assert len(over_starts) == 3 and (over_starts["units"] == 5).all()
    assert set(over_starts["verdict"]) <= {"different", "equivalent", "inconclusive"}


def test_lags_mixed_growth_and_recovery(fresh_run):
    s = pd.read_parquet(fresh_run / "summary.parquet")
    fresh = report.freshness(s)
    assert len(fresh) == 2 * 2 * 2 and (fresh["errors"] == 0).all() and (fresh["lag_avg_ms"] >= 0).all()
    mixed = report.mixed(s)
    with_writer = mixed[mixed["writer_target_rows_per_s"] == 200.0]
    assert (with_writer["writer_achieved_rows_per_s"] > 0).all() and (mixed["rps"] > 0).all()
    growth = report.raw_of(fresh_run, s[s["op"] == "ingest_growth"])
    assert growth.groupby("variant")["rows_inserted"].max().tolist() == [2000, 2000]
    rec = report.recovery(s)
    assert set(rec["variant"]) == {"rocksmq", "natsmq"} and (rec["rows_acked"] == 600).all()
    assert rec["serving_s"].notna().all() and rec["rows_lost"].notna().all() and rec["rows_duplicated"].notna().all()
    html = (fresh_run / "report.html").read_text()
    assert "The time tick over many server starts" in html and "Recovery after SIGKILL" in html
