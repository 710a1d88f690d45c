"""Cost models with an intercept: recovered from known data, checked on the held-out largest N, refused far away
or where nothing could check them."""
import numpy as np
import pytest
from mqbench.stats import scaling


def test_cost_model_recovers_a_known_intercept_and_slope():
    n = np.array([1e4, 1e5, 1e6, 1e7])
    f = scaling.fit(n, 5 + 2e-6 * n, target=5e7)
    assert f["model"] == "linear" and f["fixed_cost"] == pytest.approx(5) and f["per_row"] == pytest.approx(2e-6)
    assert f["extrapolated"] == pytest.approx(105) and abs(f["holdout_error"]) < 1e-6
    assert np.isnan(scaling.fit(n, 5 + 2e-6 * n, target=1e9)["extrapolated"])  # 100x past the largest N


def test_power_model_is_kept_when_it_predicts_the_largest_n_better():
    n = np.array([1e4, 1e5, 1e6, 1e7, 1e8])
    f = scaling.fit(n, 3 + 0.5 * n ** 0.5, target=1e8)
    assert f["model"] == "power" and f["exponent"] == pytest.approx(0.5, abs=0.02)


def test_rps_limited_by_the_client_is_not_extrapolated():
    import pandas as pd

    rows = [dict(notebook="scale_curve", status="ok", op="search", phase="concurrent", mq="natsmq", repeat=0,
                 run_id="r", data_n=n, rps=1000.0 / (1 + n / 1e6), client_cpu_share=0.9) for n in (1e4, 1e5, 1e6)]
    fitted = scaling.fits(pd.DataFrame(rows), 2e6)
    assert fitted["extrapolated"].isna().all() and fitted["note"].str.contains("client").all()


def test_a_model_without_a_holdout_is_never_extrapolated():
    f = scaling.fit(np.array([1e7, 1e8]), np.array([10.0, 90.0]), target=2e8)
    assert np.isnan(f["extrapolated"]) and "no holdout" in f["note"] and not np.isfinite(f["holdout_error"])
    assert "predicted from 1 smaller size" in f["holdout"]
