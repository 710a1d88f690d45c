"""The Findings: one line per compared metric — verdict, ratio, interval, units — what a report opens with.

The unit of a comparison is the level that varies (docs/measurement.md):

* **start pairs** (rows with ``unit == "start"``): ``search_query``'s served build, started again and again —
  every block of a start reduced to the start's mean, so start-to-start differences (the time-tick phase, the
  caches, the layout a load left) are inside the interval; and ``freshness_recovery``'s time-tick study;
* **blocks** (other rows with a ``block``): pub/sub ops on brokers side by side, or blocks on one external
  server. A metric that waits for Milvus's time tick (Strong reads, insert→visible) is fixed per server start,
  so blocks within one start are not independent for it and it gets no verdict from blocks; recall is fixed
  per index build and gets none from blocks either (from start pairs of one served build it does);
* **builds**: loads and index builds, once per variant's own build — listed with their single observation
  unless a grid repeats them.

Failed requests are compared by their counts (:func:`_error_rates`). :func:`components` splits each run-time
metric's spread into within-start and between-start parts (a mixed model) and says how many start pairs a
verdict at ±δ would need.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from mqbench.core import results, schema
from mqbench.core.schema import Consistency, Notebook, Unit, Verdict
from mqbench.stats import verdicts

# notebook -> (grouping keys, metrics compared)
COMPARED = {
    Notebook.SEARCH_QUERY: (["sweep", "op", "phase", "concurrency", "point", "consistency_level"],
                     ["latency_avg_ms", "latency_p50_ms", "latency_p99_ms", "rps", "recall_at_k", "lag_avg_ms",
                      "milvus_tsafe_wait_ms", "milvus_qn_consume_tt_lag_ms"]),
    Notebook.PUBSUB: (["op", "phase", "shape"], ["s_per_op", "milvus_produce_ms", "milvus_qn_consume_tt_lag_ms"]),
    # per start, the mean: defined for any number of samples (a start's median needs 20)
    Notebook.FRESHNESS_RECOVERY: (["op", "phase", "consistency_level", "batch_rows"], ["latency_avg_ms", "lag_avg_ms"]),
}
NOT_FOR_SERIAL = {"rps"}  # a serial phase's rate is only its latency inverted
SERIAL_PHASES = (schema.Phase.SERIAL, schema.Phase.TICK)
MILVUS_SERIES = {"milvus_tsafe_wait_ms", "milvus_qn_consume_tt_lag_ms", "milvus_produce_ms"}
MILVUS_PHASES = (schema.Phase.TICK, schema.Phase.MILVUS)  # where Milvus's own series are compared
LOAD_METRICS = {schema.Op.INSERT: "rows_per_s", schema.Op.INDEX: "duration_s", schema.Op.FLUSH: "duration_s",
                schema.Op.LOAD: "duration_s"}
TICK_REASON = ("waits for Milvus's time tick, fixed per server start: the unit is the start, not the block "
               "(see the time-tick study of freshness_recovery.ipynb)")
BUILD_METRICS = {"recall_at_k"}
TICK_METRICS = {"milvus_qn_consume_tt_lag_ms"}  # Milvus's time-tick lag: fixed per start like a Strong read
BUILD_REASON = ("fixed per index build: every block searches the same graph, so one build per variant is one "
                "unit (two RocksMQ servers fed the same rows in the same order built graphs 4.5% apart in recall)")
ORDER = {verdict: i for i, verdict in enumerate(verdicts.VERDICTS)}  # different first


def _tick_bound(rows: pd.DataFrame) -> pd.Series:
    """Rows of a block comparison that wait for the time tick: Strong reads and insert→visible."""
    strong = rows["consistency_level"].eq(Consistency.STRONG) if "consistency_level" in rows else False
    return rows["op"].eq(schema.Op.INSERT_VISIBLE) | strong


def _blocked(summary: pd.DataFrame) -> list[pd.DataFrame]:
    """Comparisons over start pairs and over blocks, notebook by notebook."""
    ok = results.with_consistency(results.rows(summary))
    if "block" not in ok or "variant" not in ok:
        return []
    ok = ok[ok["block"].notna()]
    if "sweep" in ok:
        ok = ok[ok["sweep"].ne(schema.Sweep.WARMUP)]
    out = []
    for notebook, (keys, metrics) in COMPARED.items():
        rows = ok[ok["notebook"] == notebook]
        if rows.empty:
            continue
        keys = [k for k in keys if k in rows]
        rows = rows.assign(**{k: rows[k].astype(object).fillna("") for k in keys})
        per_start = rows["unit"].eq(Unit.START) if "unit" in rows else pd.Series(False, index=rows.index)
        start = rows["start"].fillna(rows["block"]) if "start" in rows else rows["block"]
        rows = rows.assign(unit_id=np.where(per_start, "start " + start.astype(str), "block " + rows["block"].astype(str)))
        for by_start, part in ((True, rows[per_start]), (False, rows[~per_start])):
            table = _compare(part, keys, metrics)
            if table.empty:
                continue
            if not by_start:
                held_keys = part.loc[_tick_bound(part), keys].drop_duplicates()
                held = table.merge(held_keys, on=keys, how="left", indicator=True)["_merge"].eq("both").to_numpy()
                held = held | table["metric"].isin(TICK_METRICS).to_numpy()  # a tick lag is set per start, too
                table = _withhold(table, held, TICK_REASON)
                built = (table["metric"].isin(BUILD_METRICS) & table["verdict"].ne(Verdict.INSUFFICIENT)).to_numpy()
                table = _withhold(table, built, BUILD_REASON, units=1)
            out.append(table.assign(notebook=notebook, unit=Unit.START_PAIR if by_start else Unit.BLOCK))
        errors = _error_rates(rows, keys)
        if len(errors):
            out.append(errors.assign(notebook=notebook))
    return out


def _compare(rows: pd.DataFrame, keys: list[str], metrics: list[str]) -> pd.DataFrame:
    """Phase by phase: a serial phase's rate is only its latency inverted (no ``rps``), and Milvus's own series are
    compared only where they are the point: reads waiting for the time tick, and pub/sub through Milvus."""
    tables = []
    for phase, part in rows.groupby("phase", sort=False):
        wanted = [m for m in metrics if not (phase in SERIAL_PHASES and m in NOT_FOR_SERIAL)
                  and not (m in MILVUS_SERIES and phase not in MILVUS_PHASES)]
        tables.append(verdicts.compare(part, wanted, keys, unit="unit_id", correct_family=False, aggfunc="mean"))
    tables = [t for t in tables if len(t)]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def _error_rates(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Failed requests (or never-visible inserts) per contender against the baseline, pooled over units, where a
    group has the units of a verdict or any failure (a sweep point's clean single pass is not listed): no
    failure on either side is *equivalent*; otherwise Fisher's exact test on the counts, *different* below 5%
    after a Bonferroni correction over these rows, else *inconclusive*."""
    if not {"errors", "count"} <= set(rows) or rows["count"].fillna(0).sum() == 0:
        return pd.DataFrame()
    out = []
    for group, part in rows.groupby(keys, dropna=False, sort=False):
        group = group if isinstance(group, tuple) else (group,)
        totals = part.groupby("variant")[["errors", "count"]].sum()
        if part["unit_id"].nunique() < verdicts.MIN_UNITS and totals["errors"].sum() == 0:
            continue
        order = verdicts._variant_order(part)
        for contender in order[1:]:
            (eb, nb), (ec, nc) = totals.loc[order[0]], totals.loc[contender]
            if nb <= 0 or nc <= 0:
                continue
            eb, nb, ec, nc = int(eb), int(nb), int(ec), int(nc)
            p = float(stats.fisher_exact([[ec, nc - ec], [eb, nb - eb]])[1]) if eb + ec else 1.0
            out.append({**dict(zip(keys, group)), "metric": "error_rate", "baseline": order[0], "contender": contender,
                        "baseline_median": eb / nb, "contender_median": ec / nc,
                        "ratio": (ec / nc) / (eb / nb) if eb else (1.0 if not ec else np.inf),
                        "ci_low": np.nan, "ci_high": np.nan, "units": int(part["unit_id"].nunique()),
                        "p_value": np.nan, "_p": p, "_failed": int(eb + ec), "_n": int(nb + nc)})
    if not out:
        return pd.DataFrame()
    table = pd.DataFrame(out)
    tests = max(1, int((table["_failed"] > 0).sum()))
    table["verdict"] = np.where(table["_failed"] == 0, Verdict.EQUIVALENT,
                                np.where(table["_p"] * tests < verdicts.ALPHA, Verdict.DIFFERENT, Verdict.INCONCLUSIVE))
    table["reason"] = [f"no failed request among {n:,} on either side" if f == 0 else
                       f"{f} failed of {n:,}; Fisher's exact p = {p:.3g} (Bonferroni over {tests})"
                       for f, n, p in zip(table["_failed"], table["_n"], table["_p"])]
    return table.drop(columns=["_p", "_failed", "_n"]).assign(unit=Unit.REQUEST)


def _withhold(table: pd.DataFrame, mask, reason: str, **also) -> pd.DataFrame:
    """The rows under ``mask`` keep their ratio but get no verdict: no interval, no p-value, the reason."""
    table = table.copy()
    table.loc[mask, ["ci_low", "ci_high", "p_value"]] = np.nan
    table.loc[mask, ["verdict", "reason"]] = ["insufficient data", reason]
    for column, value in also.items():
        table.loc[mask, column] = value
    return table


def _loads(summary: pd.DataFrame) -> pd.DataFrame:
    """Load phases: one observation per variant and server, so as many units as servers per variant (the i-th
    build of one variant paired with the i-th of the other); loads of different sizes never pair."""
    ok = results.rows(summary, op=list(LOAD_METRICS))
    if ok.empty or "variant" not in ok or ok["variant"].nunique() < 2:
        return pd.DataFrame()
    ok = ok.assign(rows=ok["rows"].fillna(-1) if "rows" in ok else -1)
    frames = []
    for (notebook, op, _), rows in ok.groupby(["notebook", "op", "rows"]):
        rows = rows.assign(unit=rows.groupby("variant").cumcount())
        frames.append(verdicts.compare(rows, [LOAD_METRICS[op]], ["op", "phase"], unit="unit",
                                       correct_family=False).assign(notebook=notebook, unit=Unit.BUILD))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def findings(summary: pd.DataFrame, delta: float | None = None) -> pd.DataFrame:
    """Every comparison of the run, corrected as one family, sorted: different ones first (largest effect
    first), then equivalent, inconclusive, insufficient data, failed-request shares last; with a one-line
    ``reading``."""
    frames = [f for f in [*_blocked(summary), _loads(summary)] if len(f)]
    if not frames:
        return pd.DataFrame(columns=["notebook", "what", "metric", "verdict", "ratio", "ci_low", "ci_high", "units"])
    table = pd.concat(frames, ignore_index=True)
    if delta is None:
        delta = float(summary["delta"].dropna().iloc[0]) if "delta" in summary and summary["delta"].notna().any() \
            else verdicts.DELTA
    table = verdicts.recheck(table, delta)
    table["what"] = [describe(row) for row in table.to_dict("records")]
    table["reading"] = [reading(row, delta) for row in table.to_dict("records")]
    with np.errstate(divide="ignore"):  # a ratio of 0 (no failure on one side) has an infinite effect
        table["effect"] = np.abs(np.log(table["ratio"].astype(float)))
    table["_errors_last"] = table["metric"].eq("error_rate")
    table = table.sort_values(["_errors_last", "verdict", "effect"],
                              key=lambda s: s.map(ORDER) if s.name == "verdict" else (s if s.dtype == bool else -s))
    table = table.drop(columns="_errors_last")
    columns = ["notebook", "what", "metric", "baseline", "contender", "verdict", "ratio", "ci_low", "ci_high",
               "units", "unit", "baseline_median", "contender_median", "reading", "reason", "p_value", "p_adjusted",
               "sweep", "op", "phase", "shape", "point", "consistency_level", "concurrency", "batch_rows"]
    return table[[c for c in columns if c in table]].reset_index(drop=True)


def _given(value) -> bool:
    return value not in (None, "") and not (isinstance(value, float) and np.isnan(value))


def describe(row: dict) -> str:
    """``search · serial · blocks`` style label of what was compared."""
    parts = [row.get(k) for k in ("op", "phase", "shape", "point", "consistency_level", "sweep")]
    concurrency = row.get("concurrency")
    if _given(concurrency) and concurrency != 0 and row.get("phase") != schema.Phase.SERIAL:
        parts.append(f"c={int(float(concurrency))}")
    if _given(row.get("batch_rows")):
        parts.append(f"{int(float(row['batch_rows']))} rows/batch")
    if row.get("phase") == schema.Phase.BROKER:
        parts.append("Python client stacks, not Milvus")
    return " · ".join(dict.fromkeys(str(p) for p in parts if _given(p)))


def reading(row: dict, delta: float) -> str:
    """One sentence: what the verdict says in the metric's own terms."""
    label = schema.label(row["metric"])
    ratio = row["ratio"]
    if row["verdict"] == Verdict.DIFFERENT:
        change = (ratio - 1) * 100
        better = (schema.better(row["metric"]) == "lower") == (ratio < 1)
        return (f"{row['contender']}'s {label} is {abs(change):.1f}% {'lower' if change < 0 else 'higher'} than "
                f"{row['baseline']}'s ({'better' if better else 'worse'})")
    if row["verdict"] == Verdict.EQUIVALENT:
        return f"{label}: {row['contender']} and {row['baseline']} within ±{delta:.0%}"
    if row["verdict"] == Verdict.INCONCLUSIVE:
        return f"{label}: not resolved at ±{delta:.0%} — more {row.get('unit') or 'unit'}s would tell"
    return f"{label}: {row.get('reason') or 'too few independent units'}"


def components(summary: pd.DataFrame, delta: float = verdicts.DELTA) -> pd.DataFrame:
    """Where the noise of each run-time comparison lives. Per block the log ratio contender ÷ baseline; a mixed
    model (statsmodels ``MixedLM``: a random intercept per start) splits its variance into *between starts* and
    *within a start* (between blocks); ``starts_for_delta`` is how many start pairs make the 95% interval's
    half-width ±δ for a ratio near 1 (from the per-start spread, τ² + σ²/blocks)."""
    if not {"unit", "start", "block", "variant"} <= set(summary):
        return pd.DataFrame()
    rows = results.rows(summary, unit=Unit.START, notebook=Notebook.SEARCH_QUERY,
                        sweep=schema.Sweep.BLOCKS if "sweep" in summary else None)
    rows = rows[rows["start"].notna() & rows["block"].notna()]
    if rows.empty or rows["variant"].nunique() < 2:
        return pd.DataFrame()
    keys, metrics = COMPARED[Notebook.SEARCH_QUERY]
    keys = [k for k in keys if k in rows]
    rows = rows.assign(**{k: rows[k].astype(object).fillna("") for k in keys})
    out = []
    for group, part in rows.groupby(keys, sort=False):
        order = verdicts._variant_order(part)
        for metric in (m for m in metrics if m in part and part[m].notna().any() and m not in MILVUS_SERIES):
            if part["phase"].iloc[0] in SERIAL_PHASES and metric in NOT_FOR_SERIAL:
                continue
            wide = part.pivot_table(index=["start", "block"], columns="variant", values=metric, aggfunc="mean")
            for contender in (c for c in order[1:] if c in wide and order[0] in wide):
                with np.errstate(divide="ignore", invalid="ignore"):
                    d = np.log(wide[contender] / wide[order[0]]).replace([np.inf, -np.inf], np.nan).dropna()
                fit = _split(d.reset_index(name="d"))
                if fit is None:
                    continue
                between, within, per_start, blocks = fit
                need = int(np.ceil((1.96 * np.sqrt(per_start) / np.log(1 + delta)) ** 2)) if per_start > 0 else 2
                out.append({**dict(zip(keys, group if isinstance(group, tuple) else (group,))), "metric": metric,
                            "baseline": order[0], "contender": contender, "starts": int(d.index.get_level_values(0).nunique()),
                            "blocks_per_start": blocks, "sd_between_starts": float(np.sqrt(between)),
                            "sd_within_start": float(np.sqrt(within)), "sd_per_start": float(np.sqrt(per_start)),
                            "starts_for_delta": max(need, verdicts.MIN_UNITS)})
    table = pd.DataFrame(out)
    if len(table):
        table.insert(0, "what", [describe(row) for row in table.to_dict("records")])
    return table


def _split(frame: pd.DataFrame):
    """(between-start variance, within-start variance, variance of a start's mean, blocks per start) of the log
    ratios ``d`` — the first two from a random intercept per start (NaN with one block per start, where they
    cannot be told apart), the third from the per-start means themselves; None with fewer than 3 starts."""
    import statsmodels.formula.api as smf

    if frame["start"].nunique() < 3:
        return None
    blocks = float(frame.groupby("start").size().mean())
    per_start = float(frame.groupby("start")["d"].mean().var(ddof=1))
    if blocks < 2 or frame["d"].std() == 0:
        return np.nan, np.nan, per_start, blocks
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = smf.mixedlm("d ~ 1", frame, groups=frame["start"]).fit(reml=True)
        except (ValueError, np.linalg.LinAlgError):
            return np.nan, np.nan, per_start, blocks
    between = float(result.cov_re.iloc[0, 0]) if result.cov_re.size else 0.0
    return max(between, 0.0), float(result.scale), per_start, blocks
