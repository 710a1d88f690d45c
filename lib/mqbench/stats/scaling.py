"""How costs grow with N: cost models with an intercept, checked on a held-out size, extrapolated only
where that is honest.

Each metric is fitted as ``y = c + a·N`` (a fixed cost plus a per-row marginal cost) and, from four
sizes on, also as ``y = c + a·N^b``; the model kept is the one that best predicts the largest measured N
from the smaller ones — the **holdout** is that one size (``holdout``), and ``holdout_error`` is the
prediction's relative error, shown beside every extrapolation. The value at ``target`` N is an
**extrapolation**, labelled as one, and is refused (NaN, with the reason) when the model could not be
checked on a holdout (fewer sizes than it needs plus one), beyond 10× the largest measured N unless asked,
and for RPS measured while the client used more than :data:`CLIENT_BOUND` of the host's CPU (that RPS is
the client's, not Milvus's).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import optimize

from mqbench.core import results, schema
from mqbench.core.schema import Notebook, Op, Phase
from mqbench.data.seed import seed_table

CLIENT_BOUND = 0.5     # client share of host CPU above which an RPS figure describes the client
MAX_FACTOR = 10        # extrapolate at most this far past the largest measured N unless asked

# metric -> (op, phase, summary column); its unit is the column's (schema.COLUMNS), sizes shown in GiB
SCALE_METRICS = {
    "insert_s": (Op.INSERT, Phase.LOAD, "insert_s"),
    "insert_rows_per_s": (Op.INSERT, Phase.LOAD, "rows_per_s"),
    "index_s": (Op.INDEX, Phase.LOAD, "duration_s"),
    "mq_storage_gib": (Op.INSERT, Phase.LOAD, "mq_storage_bytes"),
    "server_rss_gib": (Op.SEARCH, Phase.CONCURRENT, "server_rss_peak_mib"),
    "search_latency_ms": (Op.SEARCH, Phase.SERIAL, "latency_avg_ms"),
    "query_latency_ms": (Op.QUERY, Phase.SERIAL, "latency_avg_ms"),
    "search_rps": (Op.SEARCH, Phase.CONCURRENT, "rps"),
    "query_rps": (Op.QUERY, Phase.CONCURRENT, "rps"),
}
IN_GIB = {"B": 2**-30, "MiB": 2**-10}


def unit_of(column: str) -> tuple[str, float]:
    """The unit a scale metric is shown in and the factor from its column's unit (bytes and MiB become GiB)."""
    unit = schema.COLUMNS[column].unit
    return ("GiB", IN_GIB[unit]) if unit in IN_GIB else (unit, 1.0)


def _linear(n, c, a):
    return c + a * n


def _power(n, c, a, b):
    return c + a * np.power(n, b)


def fit_model(n, y, model: str):
    """Parameters of ``model`` (``linear`` or ``power``) fitted to the points, or None if it cannot be."""
    n, y = np.asarray(n, float), np.asarray(y, float)
    try:
        if model == "linear":
            a, c = np.polyfit(n, y, 1)
            return (c, a)
        slope = (y[-1] - y[0]) / (n[-1] - n[0]) if n[-1] != n[0] else 0.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optimize.OptimizeWarning)
            params, _ = optimize.curve_fit(_power, n / n.max(), y, p0=(y.min(), slope * n.max(), 1.0), maxfev=20000)
        c, a, b = params
        return (c, a / n.max() ** b, b)
    except (RuntimeError, ValueError, np.linalg.LinAlgError, TypeError):
        return None


def predict(params, model: str, n) -> np.ndarray:
    return _linear(np.asarray(n, float), *params) if model == "linear" else _power(np.asarray(n, float), *params)


def fit(n, y, target: float, allow_beyond: bool = False) -> dict:
    """The model that best predicts the largest N from the smaller ones, its parameters, and its value at
    ``target`` (refused where no model could be checked that way)."""
    order = np.argsort(np.asarray(n, float))
    n, y = np.asarray(n, float)[order], np.asarray(y, float)[order]
    candidates = ["linear"] + (["power"] if len(np.unique(n)) >= 4 else [])
    best = {"model": None, "holdout_error": np.nan}
    for model in candidates:
        held = n < n.max()
        loo = np.nan
        if len(np.unique(n[held])) >= (2 if model == "linear" else 3):
            params = fit_model(n[held], y[held], model)
            if params is not None:
                guess = predict(params, model, n.max())
                loo = float((guess - y[~held].mean()) / y[~held].mean())
        # a more complex model has to predict clearly better (a fifth smaller error, and by 0.1 point) to be kept
        gain = abs(best["holdout_error"]) - abs(loo) if best["model"] else np.inf
        if best["model"] is None or not np.isfinite(best["holdout_error"]) or (
                np.isfinite(loo) and abs(loo) < 0.8 * abs(best["holdout_error"]) and gain > 1e-3):
            best = {"model": model, "holdout_error": loo}
    params = fit_model(n, y, best["model"])
    out = {**best, "holdout": f"N = {n.max():.3g} predicted from {len(np.unique(n)) - 1} smaller size(s)",
           "points": len(n), "fixed_cost": params[0] if params else np.nan,
           "per_row": params[1] if params and best["model"] == "linear" else np.nan,
           "exponent": params[2] if params and best["model"] == "power" else (1.0 if params else np.nan)}
    refused = ""
    if not np.isfinite(best["holdout_error"]):
        refused = (f"not extrapolated: {len(np.unique(n))} measured size(s) leave no holdout to check the "
                   f"{best['model']} model on (it needs {3 if best['model'] == 'linear' else 4})")
    elif target > MAX_FACTOR * n.max() and not allow_beyond:
        refused = (f"refused: {target:.3g} is {target / n.max():.0f}× the largest measured N {n.max():.3g} "
                   f"(limit {MAX_FACTOR}×; set extrapolate_beyond_measured)")
    out["extrapolated"] = float(predict(params, best["model"], target)) if params and not refused else np.nan
    out["note"] = refused
    return out


def points(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per (metric, mq, repeat, n) from scale-curve rows, in the metric's unit, with the client's
    CPU share where the row has one."""
    df = results.rows(summary, notebook=Notebook.SCALE_CURVE)
    out = []
    for metric, (op, phase, column) in SCALE_METRICS.items():
        part = results.rows(df, op=op, phase=phase)
        unit, scale = unit_of(column)
        if column not in part or part.empty or "data_n" not in part:
            continue
        share = part["client_cpu_share"] if "client_cpu_share" in part else np.nan
        out.append(pd.DataFrame({"metric": metric, "unit": unit, "mq": part["mq"], "repeat": part["repeat"],
                                 "run_id": part["run_id"], "n": part["data_n"].astype(float),
                                 "value": part[column] * scale, "client_cpu_share": share}))
    return pd.concat(out, ignore_index=True).dropna(subset=["value"]) if out else pd.DataFrame()


def fits(summary: pd.DataFrame, target: float = 1e8, allow_beyond: bool = False) -> pd.DataFrame:
    """Per (metric, mq): the chosen cost model, its check on the held-out largest N, the largest measured point and the
    value at ``target`` (NaN with a note where refused)."""
    pts = points(summary)
    if pts.empty:
        return pd.DataFrame()
    rows = []
    for (metric, mq), part in pts.groupby(["metric", "mq"]):
        if part["n"].nunique() < 2:
            continue
        largest = part[part["n"] == part["n"].max()]
        row = {"metric": metric, "unit": part["unit"].iloc[0], "mq": mq, "largest_n": part["n"].max(),
               "at_largest_n": largest["value"].median(), "target_n": target,
               **fit(part["n"], part["value"], target, allow_beyond)}
        if metric.endswith("_rps") and (largest["client_cpu_share"] > CLIENT_BOUND).any():
            row.update(extrapolated=np.nan, note=f"not extrapolated: the client used over {CLIENT_BOUND:.0%} of the "
                                                 "host's CPU, so this RPS is the client's")
        rows.append(row)
    return pd.DataFrame(rows)


SEED_METRICS = {"search_latency_ms": "search_latency_avg", "query_latency_ms": "query_latency_avg"}


def beside_seed(fitted: pd.DataFrame) -> pd.DataFrame:
    """The fits with the seed's measured 100M value beside them where the seed has a comparable one."""
    if fitted.empty:
        return fitted
    seed = seed_table("integration").set_index(["metric", "mq"])["value"]
    out = fitted.copy()
    out["seed_100M_measured"] = [seed.get((SEED_METRICS.get(m), mq), np.nan) for m, mq in zip(out["metric"], out["mq"])]
    return out.rename(columns={"extrapolated": "extrapolated (not measured)"})
