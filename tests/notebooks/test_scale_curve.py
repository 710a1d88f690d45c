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
