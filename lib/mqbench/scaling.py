"""How costs grow with N: power-law fits over the scale curve and their extrapolation to a target N.

Each metric is fitted as ``y = a · N^b`` by least squares on log-log axes (``scipy.stats.linregress``);
the extrapolated value comes with a 95% prediction interval from the fit's residuals (Student t with
``points - 2`` degrees of freedom). An extrapolation is labelled as one wherever it is shown.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .seed import seed_table

# metric -> (op, phase, summary column, unit)
SCALE_METRICS = {
    "insert_s": ("insert", "load", "duration_s", "s"),
    "index_s": ("index", "load", "duration_s", "s"),
    "mq_storage_gb": ("insert", "load", "mq_storage_bytes", "GB"),
    "server_rss_gb": ("search", "concurrent", "server_rss_peak_mb", "GB"),
    "search_latency_ms": ("search", "serial", "latency_avg_ms", "ms"),
    "search_rps": ("search", "concurrent", "rps", "1/s"),
}
SCALE = {"mq_storage_bytes": 1e-9, "server_rss_peak_mb": 1 / 1024}


def fit(n: np.ndarray, y: np.ndarray, target: float) -> dict:
    """Power-law fit of ``y`` over ``n``; exponent with its standard error, and ``y`` at ``target`` with a
    95% prediction interval."""
    x, ly = np.log(np.asarray(n, float)), np.log(np.asarray(y, float))
    r = stats.linregress(x, ly)
    dof = len(x) - 2
    residual = np.sqrt(np.sum((ly - (r.intercept + r.slope * x)) ** 2) / dof) if dof > 0 else np.nan
    x0 = np.log(target)
    se = residual * np.sqrt(1 + 1 / len(x) + (x0 - x.mean()) ** 2 / np.sum((x - x.mean()) ** 2))
    half = stats.t.ppf(0.975, dof) * se if dof > 0 else np.nan
    mid = r.intercept + r.slope * x0
    return {"exponent": r.slope, "exponent_se": r.stderr, "points": len(x),
            "extrapolated": float(np.exp(mid)), "extrapolated_low": float(np.exp(mid - half)),
            "extrapolated_high": float(np.exp(mid + half))}


def points(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per (metric, mq, repeat, n) from a scale-curve run's summary, in the metric's unit."""
    df = summary[(summary["status"] == "ok") & (summary["notebook"] == "scale_curve")]
    out = []
    for metric, (op, phase, column, unit) in SCALE_METRICS.items():
        part = df[(df["op"] == op) & (df["phase"] == phase)]
        if column not in part or part.empty:
            continue
        n = part["n"] if "n" in part and part["n"].notna().all() else part["rows"]  # older runs: rows
        out.append(pd.DataFrame({"metric": metric, "unit": unit, "mq": part["mq"], "repeat": part["repeat"],
                                 "n": n.astype(float), "value": part[column] * SCALE.get(column, 1)}))
    return pd.concat(out, ignore_index=True).dropna(subset=["value"]) if out else pd.DataFrame()


def fits(summary: pd.DataFrame, target: float = 1e8) -> pd.DataFrame:
    """Per (metric, mq): the power-law exponent, the largest measured point and the extrapolation to ``target``."""
    pts = points(summary)
    if pts.empty:
        return pd.DataFrame()
    rows = []
    for (metric, mq), part in pts.groupby(["metric", "mq"]):
        part = part[part["value"] > 0]
        if part["n"].nunique() < 3:
            continue
        largest = part[part["n"] == part["n"].max()]["value"].median()
        rows.append({"metric": metric, "unit": part["unit"].iloc[0], "mq": mq, "largest_n": part["n"].max(),
                     "at_largest_n": largest, "target_n": target, **fit(part["n"], part["value"], target)})
    return pd.DataFrame(rows)


SEED_METRICS = {"search_latency_ms": "search_latency_avg", "search_rps": "search_rps"}


def beside_seed(fitted: pd.DataFrame) -> pd.DataFrame:
    """The fits with the seed's measured 100M value beside the extrapolation where the seed has one."""
    if fitted.empty:
        return fitted
    seed = seed_table("integration").set_index(["metric", "mq"])["value"]
    out = fitted.copy()
    out["seed_100M_measured"] = [seed.get((SEED_METRICS.get(m), mq), np.nan) for m, mq in zip(out["metric"], out["mq"])]
    return out.rename(columns={"extrapolated": "extrapolated (not measured)"})
