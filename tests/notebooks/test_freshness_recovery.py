"""freshness_recovery.ipynb at tiny size: lags, search while inserting, sustained ingest and recovery,
asserting on what was recorded (the time-tick study: test_tick_study.py, a run of its own so both run at once)."""
import pandas as pd
import pytest
from mqbench.report import tables


@pytest.fixture(scope="module")
def fresh_run(tmp_path_factory, run_mqbench):
    return run_mqbench(tmp_path_factory.mktemp("runs") / "fresh", grid_yaml="""
notebooks:
  - notebook: notebooks/freshness_recovery.ipynb
    parameters: {dim: 8, tick_starts: 0, consistency_levels: [Strong, Eventually],
                 batch_rows_list: [1, 50], batches: 3, writer_rows_per_s: 200.0, writer_batch_rows: 20,
                 mixed_consistency_levels: [Strong], mixed_concurrency: 1, mixed_window_s: 2.0, growth_rows: 2000,
                 growth_batch_rows: 500, server_overrides: {common.session.ttl: 10}, recovery_rows: 600,
                 recovery_batch_rows: 200}
""")


def test_lags_mixed_growth_and_recovery(fresh_run):
    s = pd.read_parquet(fresh_run / "summary.parquet")
    fresh = tables.freshness(s)
    assert len(fresh) == 2 * 2 * 2 and (fresh["errors"] == 0).all() and (fresh["lag_avg_ms"] >= 0).all()
    mixed = tables.mixed(s)
    with_writer = mixed[mixed["writer_target_rows_per_s"] == 200.0]
    assert (with_writer["writer_achieved_rows_per_s"] > 0).all() and (mixed["rps"] > 0).all()
    growth = tables.raw_of(fresh_run, s[s["op"] == "ingest_growth"])
    assert growth.groupby("variant")["rows_inserted"].max().tolist() == [2000, 2000]
    rec = tables.recovery(s)
    assert set(rec["variant"]) == {"rocksmq", "natsmq"} and (rec["rows_acked"] == 600).all()
    assert rec["serving_s"].notna().all() and rec["rows_lost"].notna().all() and rec["rows_duplicated"].notna().all()
    html = (fresh_run / "report.html").read_text()
    assert "Recovery after SIGKILL" in html
