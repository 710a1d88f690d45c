"""freshness_recovery.ipynb at tiny size under both MQs: lags recorded per level, recovery measured."""
import pandas as pd
import pytest

from mqbench import report


@pytest.fixture(scope="module")
def fresh_run(tmp_path_factory, run_mqbench):
    run_dir = tmp_path_factory.mktemp("runs") / "fresh"
    return run_mqbench(run_dir, grid_yaml="""
notebooks:
  - notebook: notebooks/freshness_recovery.ipynb
    parameters: {dim: 8, consistency_levels: [Strong, Eventually], batch_rows_list: [1, 50], batches: 3,
                 writer_rows_per_s: 200.0, writer_batch_rows: 20, mixed_consistency_levels: [Strong],
                 mixed_concurrency: 1, mixed_window_s: 3.0, growth_rows: 2000, growth_batch_rows: 500,
                 server_overrides: {common.session.ttl: 10},
                 recovery_rows: 600, recovery_batch_rows: 200}
    grid: {mq: [rocksmq, natsmq]}
""")


def test_lags_per_level_and_batch_size(fresh_run):
    s = pd.read_parquet(fresh_run / "summary.parquet")
    table = report.freshness(s)
    assert len(table) == 2 * 2 * 2  # levels x batch sizes x MQs
    assert (table["errors"] == 0).all() and (table["lag_p50_ms"] >= 0).all()
    raw = report.freshness_raw(fresh_run, s)
    assert len(raw) == 8 * 3 and raw["visible"].all()


def test_recovery_after_sigkill_is_measured(fresh_run):
    rec = report.recovery(pd.read_parquet(fresh_run / "summary.parquet"))
    assert set(rec["mq"]) == {"rocksmq", "natsmq"}
    assert (rec["rows_acked"] == 600).all()
    assert rec["serving_s"].notna().all() and (rec["restart_s"] > 0).all()
    assert rec["rows_lost"].notna().all()  # observed, whatever it is
    html = (fresh_run / "report.html").read_text()
    assert "Freshness and recovery" in html


def test_search_while_inserting_and_disk_growth(fresh_run):
    s = pd.read_parquet(fresh_run / "summary.parquet")
    mixed = report.mixed(s)
    assert sorted(set(mixed["writer_target_rows_per_s"])) == [0.0, 200.0]
    with_writer = mixed[mixed["writer_target_rows_per_s"] == 200.0]
    assert (with_writer["writer_achieved_rows_per_s"] > 0).all() and (mixed["rps"] > 0).all()
    growth = report.growth_raw(fresh_run, s)
    assert set(growth["mq"]) == {"rocksmq", "natsmq"}
    assert growth.groupby("mq")["rows_inserted"].max().tolist() == [2000, 2000]
    assert (growth["mq_storage_bytes"] > 0).all()
