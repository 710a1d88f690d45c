"""Three-way verdicts on paired comparisons: *different*, *equivalent within ±δ*, *inconclusive*, or
*insufficient data*.

The unit is an independent observation of every variant, paired **by key** (the same start pair, block or
build on both sides; :mod:`mqbench.stats.design` balances their order). Per unit the contender ÷ baseline
ratio is taken; the interval is a Student-t 95% interval of the mean log ratio (so the ratio is the geometric
mean over units). Why t on log ratios and not a bootstrap: with 5–20 units a percentile bootstrap
under-covers, while the t-interval is exact for normal log ratios and errs on the wide side for mildly
heavy tails (``tests/unit/test_calibration.py`` checks both).

Two hypotheses per comparison:

* *difference*: a paired t-test of the log ratios (``p_value``);
* *equivalence within ±δ*: two one-sided t-tests (TOST) against ln(1−δ) and ln(1+δ); ``p_equivalent`` is twice
  the larger one-sided p-value, so ``p_equivalent ≤ 0.05`` exactly when the 95% interval lies inside
  [1−δ, 1+δ].

Benjamini–Hochberg runs over each kind in the run (a report tests dozens of metrics): the differences are one
stated family, the equivalences another (pooled, an A/A run's resolved equivalences would loosen the threshold
for a chance "different"). A table with a ``family`` column splits each run into the named families, each
corrected on its own at its share of α (:data:`FAMILY_ALPHA`: the decision table's pre-registered primary
comparisons at 0.04, everything else at 0.01 — the shares add up to α, so a run with no effect anywhere calls
anything "different" with probability at most α).
**equivalent**: the equivalence survives the correction (a resolved but negligible difference is still
equivalent; its ratio is shown); else **different**: the interval excludes 1 and the difference survives;
else **inconclusive**, with the reason and how many units would decide it (:func:`units_needed`, t-based,
for an 80% chance). Fewer than :data:`MIN_UNITS` units, a zero value (no ratio exists: it is reported, never
dropped), or no spread at all give **insufficient data**; a comparison identical in every unit is
*degenerate* (fixed by construction) and counts towards no verdict.
"""
from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, fields

import numpy as np
import pandas as pd
from scipy import stats

from mqbench.core import mqs
from mqbench.core.schema import Verdict

MIN_UNITS = 5
DELTA = 0.05
ALPHA = 0.05
PRIMARY, SECONDARY = "primary", "secondary"
FAMILY_ALPHA = {PRIMARY: 0.04, SECONDARY: 0.01}  # shares of ALPHA (Bonferroni across the families)
POWER = 0.8
CAP = 100_000  # units_needed's answer when no number of units would do
VERDICTS = tuple(Verdict)  # in this order: different first
RATIO, DIFFERENCE = "ratio", "difference"
DEGENERATE = "identical on both sides in every unit (fixed by construction): nothing to compare"


@dataclass(frozen=True)
class Comparison:
    verdict: str
    ratio: float        # geometric mean of contender ÷ baseline over units
    ci_low: float       # 95% interval of the ratio
    ci_high: float
    units: int
    p_value: float      # difference: paired t-test of the log ratios, before the correction over the run
    reason: str = ""
    p_equivalent: float = float("nan")  # equivalence within ±δ (TOST, doubled), before the correction
    sd_log: float = float("nan")        # spread of the per-unit log ratios (for planning and re-deciding)
    degenerate: bool = False
    scale: str = RATIO                  # or DIFFERENCE: ``difference`` and its interval instead of a ratio
    difference: float = float("nan")    # mean of contender − baseline over units (difference scale)


def margins(delta: float, scale: str = RATIO) -> tuple[float, float]:
    """The equivalence margins of the per-unit statistic: ln(1−δ) and ln(1+δ) for log ratios, ±δ for differences."""
    if scale == DIFFERENCE:
        return -delta, delta
    return float(np.log1p(-delta)), float(np.log1p(delta))


def equivalence_p(mean, se, dof, delta: float = DELTA, scale: str = RATIO):
    """TOST p-value, doubled to match a 95% interval: ≤ 0.05 iff the interval of ``mean`` ± t·``se`` lies inside
    the margins (:func:`margins`). Works on arrays."""
    low, high = margins(delta, scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_low = stats.t.sf((np.asarray(mean) - low) / se, dof)
        p_high = stats.t.cdf((np.asarray(mean) - high) / se, dof)
    return np.minimum(1.0, 2 * np.maximum(p_low, p_high))


def _comparisons(n, mean, sd, zeros, scales, delta: float) -> list[Comparison]:
    """One comparison per entry: unit count, mean and sd of the per-unit statistic (a log ratio on the ratio scale,
    contender − baseline on the difference scale), units with a zero value (no ratio exists), and the scale."""
    n, mean, sd = np.asarray(n, int), np.asarray(mean, float), np.asarray(sd, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = sd / np.sqrt(n)
        half = stats.t.ppf(1 - ALPHA / 2, n - 1) * se
        p = 2 * stats.t.sf(np.abs(mean) / se, n - 1)
    out = []
    for i, (k, m, s, z, scale) in enumerate(zip(n.tolist(), mean, sd, np.asarray(zeros, int).tolist(), scales)):
        ratio = scale == RATIO
        shown = {"scale": scale, "difference": np.nan if ratio else float(m)}
        estimate = float(np.exp(m)) if ratio and k else np.nan
        if z:
            out.append(Comparison(Verdict.INSUFFICIENT, np.nan, np.nan, np.nan, k, np.nan,
                                  f"{z} unit{'s' * (z != 1)} with a zero value: no ratio exists (see the values)"))
        elif k < MIN_UNITS:
            out.append(Comparison(Verdict.INSUFFICIENT, estimate, np.nan, np.nan, k, np.nan,
                                  f"{k} independent unit{'s' * (k != 1)}; a verdict needs {MIN_UNITS}", **shown))
        elif not s > 0:
            same = m == 0
            out.append(Comparison(Verdict.INSUFFICIENT, estimate, np.nan, np.nan, k, np.nan,
                                  DEGENERATE if same else
                                  f"the same {scale} in every unit: the value is fixed above the unit (e.g. per "
                                  "build), so the units carry no information about its spread",
                                  degenerate=bool(same), **shown))
        else:
            low, high = m - half[i], m + half[i]
            if ratio:
                low, high = np.exp(low), np.exp(high)
            out.append(Comparison(decide(low, high, delta, scale), estimate, float(low), float(high), k, float(p[i]),
                                  p_equivalent=float(equivalence_p(m, se[i], k - 1, delta, scale)), sd_log=float(s),
                                  **shown))
    return out


def paired(baseline, contender, delta: float = DELTA) -> Comparison:
    """The verdict on contender ÷ baseline from paired per-unit values, for a single comparison (:func:`correct`
    then applies the run-wide correction). A unit missing on either side (NaN) is left out; a zero is not."""
    a, c = np.asarray(baseline, float), np.asarray(contender, float)
    ok = np.isfinite(a) & np.isfinite(c)
    a, c = a[ok], c[ok]
    positive = (a > 0) & (c > 0)
    logs = np.log(c[positive] / a[positive])
    sd = logs.std(ddof=1) if len(logs) > 1 else np.nan
    return _comparisons([len(a)], [logs.mean() if len(logs) else np.nan], [sd], [(~positive).sum()], [RATIO],
                        delta)[0]


def null(scale: str = RATIO) -> float:
    """The value of no effect: a ratio of 1, a difference of 0."""
    return 0.0 if scale == DIFFERENCE else 1.0


def decide(low: float, high: float, delta: float, scale: str = RATIO) -> str:
    """The verdict of one interval, before the run-wide correction."""
    zero = null(scale)
    if low >= zero - delta and high <= zero + delta:
        return Verdict.EQUIVALENT
    return Verdict.DIFFERENT if low > zero or high < zero else Verdict.INCONCLUSIVE


def units_needed(sd_log: float, log_ratio: float = 0.0, delta: float = DELTA, power: float = POWER,
                 scale: str = RATIO, alpha: float = ALPHA) -> int:
    """Units for a ``power`` chance of a decision at this spread (t-based, at level ``alpha``: pass α ÷ the
    family's size to plan for the run-wide correction, as Bonferroni bounds Benjamini–Hochberg):
    where the true log ratio ``log_ratio`` lies inside the margins, for *equivalent* —
    (t₀.₉₇₅ + t_(1+power)/2)·sd/√n ≤ margin − |log ratio| (at a ratio of 1 both one-sided tests must pass, hence
    the halved β); outside them, for *different* — (t₀.₉₇₅ + t_power)·sd/√n ≤ |log ratio|. :data:`CAP` when
    the distance to decide is zero or the spread needs more."""
    if not np.isfinite(sd_log) or sd_log <= 0:
        return MIN_UNITS
    low, high = margins(delta, scale)
    margin = high if log_ratio >= 0 else -low
    inside = abs(log_ratio) < margin
    distance = margin - abs(log_ratio) if inside else abs(log_ratio)
    if distance <= 0:
        return CAP
    reach = _reach((1 + power) / 2 if inside else power, alpha)  # decreasing in n
    at = int(np.searchsorted(-reach, -distance / sd_log))
    return int(MIN_UNITS + at) if at < len(reach) else CAP


@functools.lru_cache(maxsize=64)
def _reach(beta_q: float, alpha: float) -> np.ndarray:
    """(t_(1−α/2) + t_beta_q) / √n for n = MIN_UNITS … CAP − 1 units (n − 1 degrees of freedom): the smallest
    effect, in units of the spread, that n units decide with that chance."""
    n = np.arange(MIN_UNITS, CAP)
    return (stats.t.ppf(1 - alpha / 2, n - 1) + stats.t.ppf(beta_q, n - 1)) / np.sqrt(n)


def correct(verdicts: list[Comparison]) -> list[Comparison]:
    """:func:`settle` on a list of comparisons of one family."""
    if not verdicts:
        return []
    table = settle(pd.DataFrame([asdict(v) for v in verdicts]))
    names = [f.name for f in fields(Comparison)]
    return [Comparison(**{n: row[n] for n in names}) for row in table.to_dict("records")]


def settle(table: pd.DataFrame, delta: float | None = None) -> pd.DataFrame:
    """Benjamini–Hochberg over each run's families (``run_id`` when the table holds several; within a run, the
    ``family`` column's families, each at its :data:`FAMILY_ALPHA`: :func:`family`) and the verdicts it leaves:
    equivalent if its equivalence survives, different if the interval excludes the null and its difference
    survives, else inconclusive with the reason. Rows without an interval but with a p-value (counts) are
    different if it survives; rows without a p-value keep their verdict and reason. With ``delta``, intervals are
    first decided again at that δ. Adds ``p_adjusted`` (difference), ``p_equivalent_adjusted`` and ``alpha``."""
    out = table.copy()
    for name, default in (("scale", RATIO), ("p_equivalent", np.nan), ("degenerate", False), ("reason", ""),
                          ("difference", np.nan), ("sd_log", np.nan)):
        if name not in out:
            out[name] = default
    out["reason"] = out["reason"].fillna("")
    tested = np.isfinite(out["p_value"].astype(float)).to_numpy()
    interval = tested & np.isfinite(out["ci_low"].astype(float)).to_numpy()
    if delta is not None and interval.any():
        out = _redecide(out, interval, delta)
    q_diff, q_equiv = np.full(len(out), np.nan), np.full(len(out), np.nan)
    by = [c for c in ("run_id", "family") if c in out]
    families = out.groupby(by, sort=False).indices.values() if by else [np.arange(len(out))]
    sizes, equiv_sizes = np.zeros(len(out), int), np.zeros(len(out), int)
    alpha = out["family"].map(FAMILY_ALPHA).fillna(ALPHA).to_numpy(float) if "family" in out \
        else np.full(len(out), ALPHA)
    for at in families:
        q_diff[at], q_equiv[at] = family(out["p_value"].to_numpy(float)[at], out["p_equivalent"].to_numpy(float)[at])
        sizes[at], equiv_sizes[at] = np.isfinite(q_diff[at]).sum(), np.isfinite(q_equiv[at]).sum()
    null_ = out["scale"].map(null).to_numpy(float)
    excludes = (out["ci_low"].to_numpy(float) > null_) | (out["ci_high"].to_numpy(float) < null_)
    equivalent = interval & (q_equiv <= alpha)
    different = tested & ~equivalent & (q_diff <= alpha) & (excludes | ~interval)
    verdict = np.where(equivalent, Verdict.EQUIVALENT, np.where(different, Verdict.DIFFERENT, Verdict.INCONCLUSIVE))
    reason = np.where(equivalent | different, "", out["reason"].to_numpy(object))
    named = out["family"].astype(str).to_numpy() if "family" in out else np.full(len(out), "")
    for i in np.flatnonzero(interval & ~equivalent & ~different):
        among = f"the run's {named[i]} family's" if named[i] else "the run's"
        if excludes[i]:
            reason[i] = (f"the interval excludes {null_[i]:g}, but not after a Benjamini-Hochberg correction over "
                         f"{among} {sizes[i]} comparisons at α = {alpha[i]:g} (q = {q_diff[i]:.3f})")
        elif out["verdict"].iat[i] == Verdict.EQUIVALENT:
            reason[i] = (f"the interval lies within ±δ, but not after a Benjamini-Hochberg correction over "
                         f"{among} {equiv_sizes[i]} equivalence tests at α = {alpha[i]:g} (q = {q_equiv[i]:.3f})")
        else:
            reason[i] = f"the interval holds both {null_[i]:g} and an effect outside ±δ"
    out["verdict"] = np.where(tested, verdict.astype(object), out["verdict"].to_numpy(object))
    out["reason"] = np.where(tested, reason, out["reason"].to_numpy(object))
    out["p_adjusted"], out["p_equivalent_adjusted"], out["alpha"] = q_diff, q_equiv, alpha
    return out


def family(p_diff, p_equiv) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini–Hochberg adjusted p-values of one run's two stated families — its difference hypotheses and its
    equivalence hypotheses, each corrected over all of its own kind (NaN: not tested). Separate, because true
    equivalences found in one family would loosen the threshold of the other: pooled, an A/A run's many resolved
    equivalences would let a chance "different" through."""
    return adjusted(p_diff), adjusted(p_equiv)


def adjusted(p_values: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values) of one family; NaN where no test was made."""
    p_values = np.asarray(p_values, float)
    out = np.full(len(p_values), np.nan)
    tested = np.isfinite(p_values)
    if tested.any():
        out[tested] = stats.false_discovery_control(p_values[tested], method="bh")
    return out


def _redecide(table: pd.DataFrame, rows: np.ndarray, delta: float) -> pd.DataFrame:
    """The interval rows of ``table`` decided at ``delta``: verdicts and equivalence p-values from the intervals."""
    part = table.loc[rows]
    dof = part["units"].to_numpy(float) - 1
    t = stats.t.ppf(1 - ALPHA / 2, dof)
    differences = part["scale"].eq(DIFFERENCE).to_numpy()
    low, high = part["ci_low"].to_numpy(float), part["ci_high"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(differences, part["difference"].to_numpy(float), np.log(part["ratio"].to_numpy(float)))
        se = np.where(differences, high - low, np.log(high) - np.log(low)) / (2 * t)
        p_equiv = np.where(differences, equivalence_p(mean, se, dof, delta, DIFFERENCE),
                           equivalence_p(mean, se, dof, delta))
    table.loc[rows, "p_equivalent"] = p_equiv
    table.loc[rows, "verdict"] = [decide(lo, hi, delta, sc) for lo, hi, sc in zip(low, high, part["scale"])]
    return table


def baselines(rows: pd.DataFrame, keys: list[str]) -> pd.Series:
    """The baseline variant of each ``keys`` group of ``rows`` (indexed by the keys): the first listed
    (``variant_index``), ties (cells of a grid, each with one variant) by the MQ registry's order, then by label."""
    index = rows["variant_index"].fillna(0) if "variant_index" in rows else pd.Series(0, index=rows.index)
    order = rows[[*keys, "variant"]].assign(_i=index).groupby([*keys, "variant"], sort=False)["_i"].min().reset_index()
    order["_r"] = order["variant"].map(mqs.order)
    order["_l"] = order["variant"].astype(str)
    return order.sort_values(["_i", "_r", "_l"], kind="stable").groupby(keys, sort=False)["variant"].first()


def variant_order(rows: pd.DataFrame) -> list:
    """The variants of ``rows``, the baseline first (:func:`baselines`), the others by ``variant_index`` and label."""
    first = baselines(rows.assign(_all=""), ["_all"]).iloc[0]
    index = rows.groupby("variant")["variant_index"].min() if "variant_index" in rows else {}
    return [first, *sorted(set(rows["variant"]) - {first}, key=lambda v: (index.get(v, 0), str(v)))]


def compare(rows: pd.DataFrame, metrics: list[str], keys: list[str], unit: str = "block",
            delta: float = DELTA, correct_family: bool = True, aggfunc: str = "median") -> pd.DataFrame:
    """Every non-baseline variant against the baseline (:func:`variant_order`), per ``keys`` group and metric.

    ``rows``: rows per (keys, variant, unit) with the metric columns, several rows of a unit reduced by
    ``aggfunc`` (the blocks of one server start by their mean). Units pair **by the value of** ``unit`` (a unit
    missing on one side is left out of the pair, never shifted). Returns one row per (keys, metric, contender)
    with both sides' medians over the paired units, the ratio, its interval and the verdict."""
    columns = [*keys, "metric", "baseline", "contender", "baseline_median", "contender_median",
               *(f.name for f in fields(Comparison))]
    metrics = [m for m in metrics if m in rows and rows[m].notna().any()]
    if rows.empty or unit not in rows or "variant" not in rows or not metrics:
        return pd.DataFrame(columns=columns)
    rows = rows.assign(**{k: rows[k].astype(object).where(rows[k].notna(), "") for k in keys})
    group_keys = keys or ["_all"]
    if not keys:
        rows = rows.assign(_all="")
    per_unit = (rows.groupby([*group_keys, "variant", unit], sort=False)[metrics].agg(aggfunc)
                .reset_index().melt(id_vars=[*group_keys, "variant", unit], var_name="metric").dropna(subset=["value"]))
    base = baselines(rows, group_keys).rename("_baseline").reset_index()
    per_unit = per_unit.merge(base, on=group_keys, how="left")
    is_base = (per_unit["variant"] == per_unit.pop("_baseline")).to_numpy()
    pairs = per_unit[~is_base].merge(per_unit[is_base].drop(columns="variant"), on=[*group_keys, unit, "metric"],
                                     suffixes=("_c", "_b")).rename(columns={"variant": "contender"})
    if pairs.empty:
        return pd.DataFrame(columns=columns)
    from mqbench.core.schema import scale

    differences = pairs["metric"].map(scale).eq(DIFFERENCE).to_numpy()
    positive = (pairs["value_c"] > 0) & (pairs["value_b"] > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        pairs["stat"] = np.where(differences, pairs["value_c"] - pairs["value_b"],
                                 np.where(positive, np.log(pairs["value_c"] / pairs["value_b"]), np.nan))
    pairs["zero"] = ~positive & ~differences
    pairs["units"] = 1
    summary = pairs.groupby([*group_keys, "metric", "contender"], sort=False).agg(
        units=("units", "size"), mean=("stat", "mean"), sd=("stat", "std"), zeros=("zero", "sum"),
        baseline_median=("value_b", "median"), contender_median=("value_c", "median")).reset_index()
    found = _comparisons(summary["units"], summary["mean"], summary["sd"], summary["zeros"],
                         summary["metric"].map(scale), delta)
    found = correct(found) if correct_family else found
    summary = summary.merge(base.rename(columns={"_baseline": "baseline"}), on=group_keys, how="left")
    out = pd.concat([summary.drop(columns=["units", "mean", "sd", "zeros"]),
                     pd.DataFrame([asdict(v) for v in found], index=summary.index)], axis=1)
    if not keys:
        out = out.drop(columns="_all")
    return out[columns]


def simulate(effects: list[float], units: int, noise_cv: float, drift_cv: float = 0.0, runs: int = 2000,
             delta: float = DELTA, seed: int = 0) -> pd.DataFrame:
    """The procedure on ``runs`` simulated runs, each comparing one metric per entry of ``effects``
    (contender = effect × baseline): per unit both sides share a host drift (log-normal, ``drift_cv``) and
    each has its own noise (``noise_cv``). One row per run and metric with the verdict."""
    rng = np.random.default_rng(seed)
    rows = []
    for run in range(runs):
        family_ = []
        for effect in effects:
            drift = rng.normal(0, drift_cv, units)
            a = np.exp(drift + rng.normal(0, noise_cv, units))
            c = effect * np.exp(drift + rng.normal(0, noise_cv, units))
            family_.append(paired(a, c, delta))
        rows += [{"run": run, "metric": m, "effect": e, "verdict": v.verdict}
                 for m, (e, v) in enumerate(zip(effects, correct(family_)))]
    return pd.DataFrame(rows)


def min_samples(quantile_percent: float) -> int:
    """Samples a percentile needs to be shown: n ≥ 10 / (1 − q) (p50: 20, p99: 1,000, p99.9: 10,000)."""
    return int(np.ceil(round(10 / (1 - quantile_percent / 100), 6)))
