"""scale_curve.ipynb at tiny sizes: each N on its own server with Table 2 measured at N; the cost models."""
import pandas as pd
import pytest
from mqbench.stats import scaling

GRID = """
notebooks:
  - notebook: notebooks/scale_curve.ipynb
    parameters: {sizes: [1000, 3000, 10000], dim: 16, queries: 20, serial_requests: 20, warmup_requests: 2,
                 rps_window_s: 1.0, rps_warmup_s: 0.3, clients: 2, batch_mb: 0.05, index_type: IVF_FLAT,
                 index_params: {nlist: 16}, search_params: {nprobe: 16}}
    grid:
      mq: [rocksmq, natsmq]
"""


@pytest.fixture(scope="module")
def scale_run(tmp_path_factory, run_mqbench):
    return run_mqbench(tmp_path_factory.mktemp("scale") / "run", grid_yaml=GRID)


def test_every_size_gets_its_server_its_load_curve_and_table2(scale_run):
    s = pd.read_parquet(scale_run / "summary.parquet")
    assert (s["status"] == "ok").all() and set(s["mq"]) == {"rocksmq", "natsmq"}
    for mq, rows in s.groupby("mq"):
        assert (rows["op"] == "server_start").sum() == 3
        insert = rows[rows["op"] == "insert"].sort_values("data_n")
        assert insert["data_n"].tolist() == [1000, 3000, 10000] and (insert["insert_workers"] == 2).all()
        assert (insert["mq_bytes_carried"] == insert["data_n"] * (16 * 4 + 16)).all()
        curve = pd.read_parquet(scale_run / insert["raw_file"].iloc[-1])
        assert curve["rows_acked"].iloc[-1] == 10000 and curve["elapsed_s"].is_monotonic_increasing
        for op in ("search", "query"):
            assert set(rows[(rows["op"] == op) & (rows["phase"] == "serial")]["data_n"]) == {1000, 3000, 10000}
            assert (rows[(rows["op"] == op) & (rows["phase"] == "concurrent")]["rps"] > 0).all()
        search = rows[(rows["op"] == "search") & (rows["phase"] == "serial")]
        assert (search["recall_at_k"] > 0.9).all()  # nprobe = nlist: exact
    html = (scale_run / "report.html").read_text()
    assert "Scale: costs against N" in html and "Insert rate over each load" in html


def test_fits_refuse_to_extrapolate_two_decades(scale_run):
    s = pd.read_parquet(scale_run / "summary.parquet")
    fitted = scaling.fits(s, 1e8)
    assert set(fitted["mq"]) == {"rocksmq", "natsmq"} and (fitted["points"] == 3).all()
    assert fitted["extrapolated"].isna().all() and fitted["note"].str.contains("refused").all()
    allowed = scaling.fits(s, 1e5)
    assert allowed["extrapolated"].notna().any()


WRITE_GRID = """
notebooks:
  - notebook: notebooks/scale_curve.ipynb
    parameters: {sizes: [2000], dim: 384, queries: 5, index_type: IVF_FLAT, index_params: {nlist: 16},
                 search_params: {nprobe: 8}, load_method: prepared, batch_mb: 0.5, compact: false, reads: false,
                 idle_s: 1.0}
    grid:
      mq: [rocksmq, natsmq]
"""


def test_the_write_path_records_each_build_and_what_it_costs(tmp_path_factory, run_mqbench):
    """The main job's write-path cell at tiny size: prepared inserts at a real width, the flush timed by a 20 ms poll,
    the server's CPU and memory while ingesting and at rest, the MQ's disk per byte carried; no reads."""
    from mqbench.report import tables

    run = run_mqbench(tmp_path_factory.mktemp("write") / "run", grid_yaml=WRITE_GRID)
    s = pd.read_parquet(run / "summary.parquet")
    assert (s["status"] == "ok").all() and not set(s["op"]) & {"search", "query"}
    insert = s[s["op"] == "insert"].set_index("mq")
    assert (insert["load_method"] == "prepared").all() and (insert["rows"] == 2000).all()
    assert (insert["mb_per_s"] > 0).all() and insert["client_limited"].isin([0, 1]).all()
    assert (insert["server_cpu_s_per_gb"] > 0).all() and (insert["prepare_s"] > 0).all()
    flush = s[s["op"] == "flush"].set_index("mq")
    assert (flush["flushed_s"] > 0).all() and (flush["mq_disk_per_byte"] > 0).all()
    idle = s[s["op"] == "idle"].set_index("mq")
    assert (idle["server_rss_mib"] > 0).all() and (idle["server_cores_busy"] >= 0).all()
    table = tables.write_path(s)
    assert len(table) == 2 and {"rows_per_s", "flushed_s", "idle_rss_mib", "client_limited"} <= set(table)
    assert "The write path" in (run / "report.html").read_text()
