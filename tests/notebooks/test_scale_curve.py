"""scale_curve.ipynb at tiny sizes under `mqbench run`, asserting on the recorded values and the fits."""
import pandas as pd
import pytest

from mqbench import scaling

GRID = """
notebooks:
  - notebook: notebooks/scale_curve.ipynb
    parameters: {sizes: [1000, 3000, 10000], dim: 16, queries: 20, serial_requests: 20, warmup_requests: 2,
                 rps_window_s: 1.0, rps_warmup_s: 0.3, clients: 2, batch_mb: 0.05}
    grid:
      mq: [rocksmq, natsmq]
"""


@pytest.fixture(scope="module")
def scale_run(tmp_path_factory, run_mqbench):
    return run_mqbench(tmp_path_factory.mktemp("scale") / "run", grid_yaml=GRID)


def test_every_size_is_loaded_indexed_and_searched_on_its_own_server(scale_run):
    s = pd.read_parquet(scale_run / "summary.parquet")
    assert (s["status"] == "ok").all() and set(s["mq"]) == {"rocksmq", "natsmq"}
    for mq, rows in s.groupby("mq"):
        assert (rows["op"] == "server_start").sum() == 3
        insert = rows[rows["op"] == "insert"].sort_values("rows")
        assert insert["rows"].tolist() == [1000, 3000, 10000] and (insert["insert_workers"] == 2).all()
        assert (insert["batch_rows"] == int(0.05 * 2**20 // (16 * 4 + 16))).all()
        search = rows[(rows["op"] == "search") & (rows["phase"] == "serial")]
        assert (search["recall_at_k"] > 0.8).all() and (search["errors"] == 0).all()
        assert insert["mq_storage_bytes"].is_monotonic_increasing or mq == "rocksmq"  # RocksDB preallocates


def test_fits_extrapolate_with_an_interval(scale_run):
    s = pd.read_parquet(scale_run / "summary.parquet")
    fitted = scaling.fits(s, 1e8)
    assert set(fitted["mq"]) == {"rocksmq", "natsmq"}
    assert {"insert_s", "index_s", "search_latency_ms", "search_rps"} <= set(fitted["metric"])
    assert (fitted["points"] == 3).all()
    assert (fitted["extrapolated_low"] <= fitted["extrapolated"]).all()
    assert (fitted["extrapolated"] <= fitted["extrapolated_high"]).all()
    insert = fitted[fitted["metric"] == "insert_s"]
    assert (insert["exponent"] > 0).all()  # more rows take longer to insert
    html = (scale_run / "report.html").read_text()
    assert "Scale curve and the 100M extrapolation" in html and "extrapolated (not measured)" in html


def test_power_law_fit_recovers_a_known_exponent():
    n = [1e4, 1e5, 1e6, 1e7]
    y = [3 * v ** 0.5 * f for v, f in zip(n, [1.01, 0.99, 1.02, 0.98])]
    f = scaling.fit(n, y, 1e8)
    assert f["exponent"] == pytest.approx(0.5, abs=0.02)
    assert f["extrapolated_low"] < 3 * 1e4 < f["extrapolated_high"]
