"""Three-way verdicts on paired comparisons: *different*, *equivalent within ±δ*, *inconclusive*, or
*insufficient data*.

The unit is an independent block: one measurement of every variant, in a balanced order
(:mod:`mqbench.stats.design`) — a block of requests on servers side by side, or a pair of server starts
for metrics that are fixed per start (the time tick). For each block the contender ÷ baseline ratio
is taken; the interval is a Student-t 95% interval of the mean log ratio (so the ratio is the
geometric mean over blocks). Why t on log ratios and not a bootstrap: with 5–20 blocks a percentile
bootstrap under-covers (at 2 repeats it is only the min/max overlap test, which calls a difference
about a third of the time when there is none), while the t-interval is exact for normal log ratios
and errs on the wide side for mildly heavy tails.

Decision (δ default 5%): **equivalent** when the whole interval lies inside [1−δ, 1+δ] (a resolved but
negligible difference is equivalent; its ratio is still shown); else **different** when the interval
excludes 1 *and* the difference survives a Benjamini–Hochberg correction over every comparison of the
run (a report compares dozens of metrics: uncorrected, an A/A run would find a "difference" in most
runs; corrected, the chance of any false "different" under no effect is ≤ 5%); else **inconclusive**.
Fewer than :data:`MIN_UNITS` blocks give **insufficient data** and no interval.
``tests/unit/test_verdicts.py`` simulates the procedure: its false "different" rate under no effect
stays ≤ 5% and its power at a known effect is printed.
"""
from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, fields, replace

import numpy as np
import pandas as pd
from scipy import stats

from mqbench.core.schema import Verdict

MIN_UNITS = 5
DELTA = 0.05
VERDICTS = tuple(Verdict)  # in this order: different first


ALPHA = 0.05


@dataclass(frozen=True)
class Comparison:
    verdict: str
    ratio: float        # geometric mean of contender ÷ baseline over units
    ci_low: float       # 95% interval of the ratio
    ci_high: float
    units: int
    p_value: float      # paired t-test of the log ratios, before the correction over the run
    reason: str = ""


def paired(baseline, contender, delta: float = DELTA, min_units: int = MIN_UNITS) -> Comparison:
    """The verdict on contender ÷ baseline from paired per-unit values, for a single comparison
    (:func:`correct` then applies the run-wide correction). Units with a missing or non-positive
    value on either side are left out."""
    a, c = np.asarray(baseline, float), np.asarray(contender, float)
    ok = np.isfinite(a) & np.isfinite(c) & (a > 0) & (c > 0)
    logs = np.log(c[ok] / a[ok])
    n = int(ok.sum())
    if n < min_units:
        ratio = float(np.exp(logs.mean())) if n else float("nan")
        return Comparison(Verdict.INSUFFICIENT, ratio, float("nan"), float("nan"), n, float("nan"),
                       f"{n} independent unit{'s' * (n != 1)}; a verdict needs {min_units}")
    mean, se = logs.mean(), logs.std(ddof=1) / np.sqrt(n)
    if not se > 0:  # every unit gave the same ratio: no spread to build an interval from
        if mean == 0:
            return Comparison(Verdict.EQUIVALENT, 1.0, 1.0, 1.0, n, 1.0, "identical values on both sides in every unit")
        return Comparison(Verdict.INSUFFICIENT, float(np.exp(mean)), float("nan"), float("nan"), n, float("nan"),
                       "the same ratio in every unit: the value is fixed above the unit (e.g. per build), so the "
                       "units carry no information about its spread")
    half = _t_critical(n - 1) * se
    p = float(2 * stats.t.sf(abs(mean) / se, n - 1))
    low, high = float(np.exp(mean - half)), float(np.exp(mean + half))
    return Comparison(decide(low, high, delta), float(np.exp(mean)), low, high, n, p)


def decide(low: float, high: float, delta: float) -> str:
    """The verdict of one interval, before the run-wide correction."""
    if low >= 1 - delta and high <= 1 + delta:
        return Verdict.EQUIVALENT
    return Verdict.DIFFERENT if low > 1 or high < 1 else Verdict.INCONCLUSIVE


@functools.lru_cache(maxsize=256)
def _t_critical(dof: int) -> float:
    return float(stats.t.ppf(1 - ALPHA / 2, dof))


def correct(verdicts: list[Comparison]) -> list[Comparison]:
    """Benjamini–Hochberg over one run's family of comparisons: a "different" whose adjusted p-value
    exceeds 5% becomes "inconclusive", with the reason."""
    tested = [i for i, v in enumerate(verdicts) if np.isfinite(v.p_value)]
    if not tested:
        return list(verdicts)
    adjusted = stats.false_discovery_control([verdicts[i].p_value for i in tested], method="bh")
    out = list(verdicts)
    for i, p in zip(tested, adjusted):
        if out[i].verdict == Verdict.DIFFERENT and p > ALPHA:
            out[i] = replace(out[i], verdict=Verdict.INCONCLUSIVE,
                             reason=f"the interval excludes 1, but not after a Benjamini-Hochberg correction over "
                                    f"{len(tested)} comparisons")
    return out


def recheck(table: pd.DataFrame, delta: float = DELTA) -> pd.DataFrame:
    """Verdicts of a table of comparisons (from :func:`compare`) decided again at ``delta`` and corrected
    as one family (rows without a p-value keep their verdict and reason)."""
    rows = [Comparison(**{f.name: row[f.name] for f in fields(Comparison)}) for row in table.to_dict("records")]
    rows = [replace(v, verdict=decide(v.ci_low, v.ci_high, delta), reason="") if np.isfinite(v.p_value) else v
            for v in rows]
    out = table.copy()
    for f, values in zip(("verdict", "reason"), zip(*[(v.verdict, v.reason) for v in correct(rows)])):
        out[f] = list(values)
    out["p_adjusted"] = adjusted(out["p_value"].astype(float).to_numpy())
    return out


def adjusted(p_values: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values) of one family; NaN where no test was made."""
    out = np.full(len(p_values), np.nan)
    tested = np.isfinite(p_values)
    if tested.any():
        out[tested] = stats.false_discovery_control(p_values[tested], method="bh")
    return out


def compare(rows: pd.DataFrame, metrics: list[str], keys: list[str], unit: str = "block",
            delta: float = DELTA, correct_family: bool = True, aggfunc: str = "median") -> pd.DataFrame:
    """Every non-baseline variant against the baseline (``variant_index`` 0), per ``keys`` group and metric.

    ``rows``: rows per (keys, variant, unit) with the metric columns, several rows of a unit reduced by
    ``aggfunc`` (the blocks of one server start by their mean). Returns one row per (keys, metric, contender)
    with both sides' medians over units, the ratio, its interval and the verdict.
    """
    out = []
    if rows.empty or unit not in rows or "variant" not in rows:
        return pd.DataFrame(columns=[*keys, "metric", "baseline", "contender", *(f.name for f in fields(Comparison))])
    for group, part in rows.groupby(keys, dropna=False, sort=False) if keys else [((), rows)]:
        group = group if isinstance(group, tuple) else (group,)
        order = _variant_order(part)
        baseline, contenders = order[0], order[1:]
        for metric in metrics:
            if metric not in part or part[metric].isna().all():
                continue
            table = part.pivot_table(index=unit, columns="variant", values=metric, aggfunc=aggfunc)
            if baseline not in table:
                continue
            for contender in (c for c in contenders if c in table):
                out.append(({**dict(zip(keys, group)), "metric": metric, "baseline": baseline,
                             "contender": contender, "baseline_median": float(table[baseline].median()),
                             "contender_median": float(table[contender].median())},
                            paired(table[baseline], table[contender], delta)))
    found = [v for _, v in out]
    found = correct(found) if correct_family else found
    return pd.DataFrame([{**row, **asdict(v)} for (row, _), v in zip(out, found)])


def _variant_order(rows: pd.DataFrame) -> list:
    """The variants of ``rows``, the baseline first: by ``variant_index`` if recorded, else RocksMQ first."""
    if "variant_index" in rows and rows["variant_index"].notna().all():
        return list(rows.groupby("variant")["variant_index"].min().sort_values(kind="stable").index)
    return sorted(rows["variant"].unique(), key=lambda label: (not str(label).startswith("rocksmq"), str(label)))


def simulate(effects: list[float], units: int, noise_cv: float, drift_cv: float = 0.0, runs: int = 2000,
             delta: float = DELTA, seed: int = 0) -> pd.DataFrame:
    """The procedure on ``runs`` simulated runs, each comparing one metric per entry of ``effects``
    (contender = effect × baseline): per unit both sides share a host drift (log-normal, ``drift_cv``) and
    each has its own noise (``noise_cv``). One row per run and metric with the verdict."""
    rng = np.random.default_rng(seed)
    rows = []
    for run in range(runs):
        family = []
        for effect in effects:
            drift = rng.normal(0, drift_cv, units)
            a = np.exp(drift + rng.normal(0, noise_cv, units))
            c = effect * np.exp(drift + rng.normal(0, noise_cv, units))
            family.append(paired(a, c, delta))
        rows += [{"run": run, "metric": m, "effect": e, "verdict": v.verdict}
                 for m, (e, v) in enumerate(zip(effects, correct(family)))]
    return pd.DataFrame(rows)


def min_samples(quantile_percent: float) -> int:
    """Samples a percentile needs to be shown: n ≥ 10 / (1 − q) (p50: 20, p99: 1,000, p99.9: 10,000)."""
    return int(np.ceil(round(10 / (1 - quantile_percent / 100), 6)))
