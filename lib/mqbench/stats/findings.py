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

Units pair by key (the start pair, block or build on both sides), never by row order; the baseline is the first
listed variant (:func:`mqbench.stats.verdicts.variant_order`). A summary of several runs is compared run by run,
each run its own multiplicity family. A value is compared as a ratio only where its resolution is fine against
a ±δ effect (:func:`_resolved`); lags with a censored batch are compared by their Kaplan–Meier medians, not their
means (:func:`_censored`). Failed requests are compared by unit (:func:`_error_rates`): no failure on either side is
a bound, not an equivalence. :func:`components` splits each run-time metric's spread into within-start and
between-start parts (a mixed model) and says how many start pairs a verdict at ±δ would need, t-based.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from mqbench.core import results, schema, studies
from mqbench.core.schema import Consistency, Notebook, Unit, Verdict
from mqbench.stats import answers, verdicts
from mqbench.stats.derived import derive

CENSOR_REASON = ("{n} insert→visible batch(es) never became visible within the timeout: the mean is only a lower "
                 "bound; the Kaplan–Meier median carries the censoring")
SERIAL_PHASES = (schema.Phase.SERIAL, schema.Phase.TICK)
# the load ops whose metrics are each judged over builds: the write path, what it costs the server (peak RSS, CPU
# per GB carried, MQ disk per byte carried) and the server at rest after the load (idle RSS and CPU share)
LOAD_OPS = (schema.Op.INSERT, schema.Op.FLUSH, schema.Op.INDEX, schema.Op.LOAD, schema.Op.IDLE)
FLUSH_POLLED = "duration_s"  # a flush timed by pymilvus's 0.5 s polls (runs before flushed_s): no ratio verdict
TICK_REASON = ("waits for Milvus's time tick, fixed per server start: the unit is the start, not the block "
               "(see the time-tick study of freshness_recovery.ipynb)")
BUILD_REASON = ("fixed per index build: every block searches the same graph, so one build per variant is one "
                "unit (two RocksMQ servers fed the same rows in the same order built graphs 4.5% apart in recall)")
ORDER = {verdict: i for i, verdict in enumerate(verdicts.VERDICTS)}  # different first


def compared() -> dict[str, tuple[list[str], list[str]]]:
    """notebook -> (the keys grouping its block rows, the metrics compared): each study's ``compare``
    (:mod:`mqbench.core.studies`) and the columns whose rule names it (:data:`mqbench.core.schema.JUDGED`)."""
    return {name: (list(s.compare), schema.judged_at(name)) for name, s in studies.declared().items() if s.compare}


def _judged(**rule) -> set[str]:
    """The judged columns whose rule has every given value, every study's columns registered first.
    ``censored_mean``: a censored batch makes them lower bounds; ``not_serial``: a serial phase's rate is only its
    latency inverted; ``milvus``: Milvus's own series; ``fixed_per``: set per build, or per start (a time-tick lag,
    like a Strong read)."""
    studies.declared()
    return schema.judged_by(**rule)


def _tick_bound(rows: pd.DataFrame) -> pd.Series:
    """Rows of a block comparison that wait for the time tick: Strong reads and insert→visible."""
    strong = rows["consistency_level"].eq(Consistency.STRONG) if "consistency_level" in rows else False
    return rows["op"].eq(schema.Op.INSERT_VISIBLE) | strong


def _runs(summary: pd.DataFrame) -> list[str]:
    """``["run_id"]`` when ``summary`` holds several runs (each is its own family and its units its own), else []."""
    return ["run_id"] if "run_id" in summary and summary["run_id"].nunique() > 1 else []


def _blocked(summary: pd.DataFrame, delta: float) -> list[pd.DataFrame]:
    """Comparisons over start pairs and over blocks, notebook by notebook."""
    ok = results.with_consistency(results.rows(summary))
    if "block" not in ok or "variant" not in ok:
        return []
    ok = ok[ok["block"].notna()]
    if "sweep" in ok:
        ok = ok[ok["sweep"].ne(schema.Sweep.WARMUP)]
    out = []
    fixed_per_start, fixed_per_build = _judged(fixed_per=Unit.START), _judged(fixed_per=Unit.BUILD)
    for notebook, (keys, metrics) in compared().items():
        rows = ok[ok["notebook"] == notebook]
        if rows.empty:
            continue
        keys = _runs(summary) + [k for k in keys if k in rows]
        rows = rows.assign(**{k: rows[k].astype(object).fillna("") for k in keys})
        per_start = rows["unit"].eq(Unit.START) if "unit" in rows else pd.Series(False, index=rows.index)
        rows = _per_cell(rows)
        start = rows["start"].fillna(rows["block"]) if "start" in rows else rows["block"]
        rows = rows.assign(unit_id=np.where(per_start, "start " + start.astype(str), "block " + rows["block"]))
        for by_start, part in ((True, rows[per_start]), (False, rows[~per_start])):
            table = _compare(part, keys, metrics)
            if table.empty:
                continue
            table = _censored(_resolved(table, delta), part, keys)
            if not by_start:
                held_keys = part.loc[_tick_bound(part), keys].drop_duplicates()
                held = table.merge(held_keys, on=keys, how="left", indicator=True)["_merge"].eq("both").to_numpy()
                held = held | table["metric"].isin(fixed_per_start).to_numpy()  # a tick lag is set per start, too
                table = _withhold(table, held, TICK_REASON)
                built = table["metric"].isin(fixed_per_build).to_numpy() & ~held
                table = _withhold(table, built, BUILD_REASON, units=1)
            out.append(table.assign(notebook=notebook, unit=Unit.START_PAIR if by_start else Unit.BLOCK))
        errors = _error_rates(rows, keys)
        if len(errors):
            out.append(errors.assign(notebook=notebook))
    return out


def _per_cell(rows: pd.DataFrame) -> pd.DataFrame:
    """``start`` and ``block`` as keys unique in the run: a repeated cell numbers its starts and blocks from 0
    again, so its repeat is part of them (``2:0``)."""
    cell = rows["repeat"].astype(str) + ":" if "repeat" in rows else ""
    keyed = {c: (cell + rows[c].astype(str)).where(rows[c].notna()) for c in ("start", "block") if c in rows}
    return rows.assign(**keyed)


def _compare(rows: pd.DataFrame, keys: list[str], metrics: list[str]) -> pd.DataFrame:
    """Phase by phase: a serial phase's rate is only its latency inverted (no ``rps``), and Milvus's own series are
    compared only where they are the point: reads waiting for the time tick, and pub/sub through Milvus."""
    tables = []
    for phase, part in rows.groupby("phase", sort=False):
        rules = {m: schema.COLUMNS[m].judged for m in metrics}
        wanted = [m for m in metrics if not (phase in SERIAL_PHASES and rules[m].not_serial)
                  and not (rules[m].phases and phase not in rules[m].phases)]
        tables.append(verdicts.compare(part, wanted, keys, unit="unit_id", correct_family=False, aggfunc="mean"))
    tables = [t for t in tables if len(t)]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def _error_rates(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Failed requests (or never-visible inserts) per contender against the baseline, where a group has the units
    of a verdict or any failure (a sweep point's clean single pass is not listed). Failures cluster by unit (a
    start that broke fails many requests), so the test is over units: the per-unit failure shares, paired by unit,
    by an exact sign-flip permutation test of their mean difference — *different* if it survives the run's
    correction, else *inconclusive*. No failure on either side is a bound, never an equivalence: *insufficient
    data*, with the 95% upper bounds per request and per unit."""
    if not {"errors", "count"} <= set(rows) or rows["count"].fillna(0).sum() == 0:
        return pd.DataFrame()
    rows = rows.assign(errors=rows["errors"].fillna(0), count=rows["count"].fillna(0))
    per_unit = rows.groupby([*keys, "unit_id", "variant"], sort=False)[["errors", "count"]].sum().reset_index()
    totals = per_unit.groupby([*keys, "variant"], sort=False).agg(
        errors=("errors", "sum"), count=("count", "sum"), units=("unit_id", "nunique")).reset_index()
    base = verdicts.baselines(rows, keys).rename("baseline").reset_index()
    totals = totals.merge(base, on=keys)
    pairs = totals[totals["variant"] != totals["baseline"]].merge(
        totals[totals["variant"] == totals["baseline"]].drop(columns="baseline"), on=keys, suffixes=("", "_b"))
    pairs = pairs[(pairs["count"] > 0) & (pairs["count_b"] > 0)
                  & ((pairs["errors"] + pairs["errors_b"] > 0) | (pairs["units_b"] >= verdicts.MIN_UNITS))]
    if pairs.empty:
        return pd.DataFrame()
    out = pairs[keys].assign(metric="error_rate", baseline=pairs["baseline"], contender=pairs["variant"],
                             baseline_median=pairs["errors_b"] / pairs["count_b"],
                             contender_median=pairs["errors"] / pairs["count"], ci_low=np.nan, ci_high=np.nan,
                             units=pairs[["units", "units_b"]].min(axis=1).astype(int), p_value=np.nan,
                             verdict=Verdict.INSUFFICIENT, unit=Unit.REQUEST)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ratio"] = np.where(pairs["errors_b"] > 0, out["contender_median"] / out["baseline_median"], np.nan)
    reasons, p_values, units = [], [], []
    for row in out.assign(_eb=pairs["errors_b"].astype(int), _nb=pairs["count_b"].astype(int),
                          _ec=pairs["errors"].astype(int), _nc=pairs["count"].astype(int)).to_dict("records"):
        failed, n, p, k = row["_eb"] + row["_ec"], row["_nb"] + row["_nc"], np.nan, row["units"]
        if failed == 0:
            reason = (f"0 failed of {row['_nb']:,} and {row['_nc']:,} requests: a bound, not an equivalence — each "
                      f"side's failure rate is below {_upper(min(row['_nb'], row['_nc'])):.2%} per request (95%, if "
                      f"requests were independent), and no unit of {k} failed (below {_upper(k):.0%} of units)")
        else:
            d = _unit_differences(per_unit, keys, row)
            k = len(d)
            if k < verdicts.MIN_UNITS:
                reason = f"{failed} failed of {n:,} over {k} paired units; a verdict needs {verdicts.MIN_UNITS}"
            else:
                p = float(stats.permutation_test((d,), np.mean, permutation_type="samples",
                                                 n_resamples=np.inf if k <= 16 else 20_000, random_state=0).pvalue)
                reason = (f"{failed} failed of {n:,}; exact sign-flip test over {k} paired units (failures cluster "
                          f"by unit), p = {p:.3g} before the correction")
        reasons.append(reason)
        p_values.append(p)
        units.append(k)
    return out.assign(reason=reasons, p_value=p_values, units=units).reset_index(drop=True)


def _unit_differences(per_unit: pd.DataFrame, keys: list[str], row: dict) -> np.ndarray:
    """Per unit, the contender's failure share minus the baseline's, over units both sides have."""
    part = per_unit
    for k in keys:
        part = part[part[k] == row[k]]
    share = part.assign(s=part["errors"] / part["count"].where(part["count"] > 0)).pivot_table(
        index="unit_id", columns="variant", values="s")
    if row["contender"] not in share or row["baseline"] not in share:
        return np.array([])
    return (share[row["contender"]] - share[row["baseline"]]).dropna().to_numpy()


def _upper(n: int) -> float:
    """The one-sided 95% upper bound of a rate with no event in ``n`` trials (Clopper–Pearson: 1 − 0.05^(1/n))."""
    return float(1 - 0.05 ** (1 / n)) if n > 0 else 1.0


def _resolved(table: pd.DataFrame, delta: float, poll_s: float | None = None) -> pd.DataFrame:
    """Ratio verdicts withheld where the value's resolution (:func:`mqbench.core.schema.resolution`: whole-ms
    histograms, a poll of the server's state — ``poll_s`` when the rows recorded theirs) is coarser than a ±δ effect
    at the smaller side's median."""
    mask, reasons = [], []
    for row in table.to_dict("records"):
        step, why = schema.resolution(row["metric"], row.get("op", ""), poll_s)
        smallest = min(row["baseline_median"], row["contender_median"])
        coarse = bool(step) and schema.scale(row["metric"]) == verdicts.RATIO and not step <= delta * smallest
        mask.append(coarse)
        if coarse:
            reasons.append(f"resolution {step:g} {schema.COLUMNS[row['metric']].unit} ({why}) is coarse against a "
                           f"±{delta:.0%} effect at a median of {smallest:.3g}: no ratio verdict")
    return _withhold(table, np.array(mask, bool), reasons) if reasons else table


def _censored(table: pd.DataFrame, rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Lag means withheld where a batch was censored (a lower bound); Kaplan–Meier medians withheld where a unit's
    median lies above the timeout (half or more of its batches censored) — counted in the reason either way."""
    counts = {"lags_censored": (_judged(censored_mean=True), CENSOR_REASON),
              "lag_median_censored": ({"lag_km_median_ms"}, "{n} unit(s) whose median lag lies above the timeout "
                                      "(half or more batches never visible): no ratio exists; the censoring is the "
                                      "finding")}
    for column, (metrics, reason) in counts.items():
        if column not in rows or table.empty or not table["metric"].isin(metrics).any():
            continue
        per_group = rows.groupby(keys, dropna=False, sort=False)[column].sum().rename("_n").reset_index()
        n = table[keys].merge(per_group, on=keys, how="left")["_n"].fillna(0).to_numpy()
        mask = table["metric"].isin(metrics).to_numpy() & (n > 0)
        if mask.any():
            table = _withhold(table, mask, [reason.format(n=int(k)) for k in n[mask]])
    return table


def _withhold(table: pd.DataFrame, mask, reason, **also) -> pd.DataFrame:
    """The rows under ``mask`` keep their ratio but get no verdict: no interval, no p-value, the reason (one for
    all, or one per masked row)."""
    table = table.copy()
    table.loc[mask, [c for c in ("ci_low", "ci_high", "p_value", "p_equivalent", "sd_log") if c in table]] = np.nan
    table.loc[mask, "verdict"] = Verdict.INSUFFICIENT
    table.loc[mask, "reason"] = reason
    for column, value in also.items():
        table.loc[mask, column] = value
    return table


def _loads(summary: pd.DataFrame, delta: float) -> pd.DataFrame:
    """Load phases and the idle window after them: one observation per variant and build, paired by the build's key
    — the grid repeat (and the run, in a summary of several) — so a missing or failed build leaves its pair out
    instead of shifting every later pair; loads of different sizes never pair; a grid's warm-up cell (repeat −1,
    ``warmup: true``) is left out. Idle windows of a served build's starts pair by start instead (a start pair); a
    start's collection load is recorded but not compared (the pair's launch position sets it)."""
    ok = results.rows(summary, op=list(LOAD_OPS))
    if "repeat" in ok:  # a grid's warm-up cell (repeat -1) is recorded, never a unit
        ok = ok[~(pd.to_numeric(ok["repeat"], errors="coerce") < 0)]
    if "start" in ok:  # a start pair's servers launch together and are waited for in turn: the second one's
        # collection load finds it loaded already (0.01 s against 3 s), so a start's load times the launch position
        ok = ok[~(ok["start"].notna() & ok["op"].eq(schema.Op.LOAD))]
    if ok.empty or "variant" not in ok or ok["variant"].nunique() < 2:
        return pd.DataFrame()
    repeat = ok["repeat"].fillna(0).astype(int).astype(str) if "repeat" in ok else pd.Series("0", index=ok.index)
    started = ok["start"].notna() if "start" in ok else pd.Series(False, index=ok.index)
    key = np.where(started, "start " + (ok["start"].astype(str) if "start" in ok else ""), "repeat " + repeat)
    ok = ok.assign(rows=ok["rows"].fillna(-1) if "rows" in ok else -1, _started=started.to_numpy(),
                   unit=(ok["run_id"].astype(str) + " · " if _runs(summary) else "") + key)
    ok = _ingest_peak(ok)
    frames = []
    for (notebook, op, _, by_start), rows in ok.groupby(["notebook", "op", "rows", "_started"]):
        metrics = schema.judged_at(op)
        if op == schema.Op.FLUSH and not ("flushed_s" in rows and rows["flushed_s"].notna().any()):
            metrics = [FLUSH_POLLED, *metrics[1:]]
        table = verdicts.compare(rows, metrics, _runs(summary) + ["op", "phase"], unit="unit", correct_family=False,
                                 aggfunc="mean")
        poll_s = rows["poll_s"].max() if "poll_s" in rows and rows["poll_s"].notna().all() else None
        frames.append(_resolved(table, delta, poll_s).assign(notebook=notebook,
                                                     unit=Unit.START_PAIR if by_start else Unit.BUILD))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _ingest_peak(rows: pd.DataFrame) -> pd.DataFrame:
    """On each flush row, ``ingest_rss_peak_mib``: the server's peak RSS from the first insert to flushed (the
    larger of its build's insert and flush peaks)."""
    if "server_rss_peak_mib" not in rows:
        return rows
    build = ["notebook", "variant", "unit", "rows"]
    ingest = rows[rows["op"].isin([schema.Op.INSERT, schema.Op.FLUSH])]
    peak = ingest.groupby(build, sort=False)["server_rss_peak_mib"].max().rename("ingest_rss_peak_mib")
    flush = rows["op"].eq(schema.Op.FLUSH)
    merged = rows[build].merge(peak.reset_index(), on=build, how="left")["ingest_rss_peak_mib"].to_numpy()
    return rows.assign(ingest_rss_peak_mib=np.where(flush, merged, np.nan))


def findings(summary: pd.DataFrame, delta: float | None = None) -> pd.DataFrame:
    """Every comparison of the run (each run of a multi-run summary its own family), corrected as one family,
    sorted: different ones first (largest effect first), then equivalent, inconclusive, insufficient data,
    failed-request shares last; with a one-line ``reading`` and, where undecided, ``units_needed``."""
    if delta is None:
        delta = float(summary["delta"].dropna().iloc[0]) if "delta" in summary and summary["delta"].notna().any() \
            else verdicts.DELTA
    studies.declared()  # every study's columns, rules and keys
    summary = derive(summary)  # rows recorded before a derived column existed get it too
    frames = [f for f in [*_blocked(summary, delta), _loads(summary, delta)] if len(f)]
    if not frames:
        return pd.DataFrame(columns=["notebook", "what", "metric", "verdict", "ratio", "ci_low", "ci_high", "units"])
    table = pd.concat(frames, ignore_index=True)
    table["primary"] = answers.primaries(table)
    table["family"] = np.where(table["primary"].ne(""), verdicts.PRIMARY, verdicts.SECONDARY)
    table = verdicts.settle(table, delta)
    runs = table["run_id"] if "run_id" in table else pd.Series("", index=table.index)
    tested = table["p_value"].notna().groupby([runs, table["family"]]).transform("sum")
    table["units_needed"] = [_needed(row, delta, max(1, int(m))) for row, m in zip(table.to_dict("records"), tested)]
    table["what"] = [describe(row) for row in table.to_dict("records")]
    table["reading"] = [reading(row, delta) for row in table.to_dict("records")]
    with np.errstate(divide="ignore"):  # a ratio of 0 (no failure on one side) has an infinite effect
        table["effect"] = np.abs(np.log(table["ratio"].astype(float))).fillna(table["difference"].abs()
                                                                               if "difference" in table else np.nan)
    table["_errors_last"] = table["metric"].eq("error_rate")
    table = table.sort_values(["_errors_last", "verdict", "effect"],
                              key=lambda s: s.map(ORDER) if s.name == "verdict" else (s if s.dtype == bool else -s))
    table = table.drop(columns="_errors_last")
    columns = ["run_id", "notebook", "what", "metric", "baseline", "contender", "verdict", "ratio", "ci_low", "ci_high",
               "units", "unit", "baseline_median", "contender_median", "reading", "reason", "units_needed", "primary",
               "family", "alpha", "p_value", "p_adjusted", "p_equivalent", "p_equivalent_adjusted", "sd_log",
               "degenerate", "scale", "difference", "sweep", "op", "phase", "shape", "point", "consistency_level", "concurrency", "batch_rows"]
    if not _runs(summary):
        columns.remove("run_id")
    return table[[c for c in columns if c in table]].reset_index(drop=True)


def _needed(row: dict, delta: float, family: int) -> float:
    """Units that would give an inconclusive row an 80% chance of a decision at its own spread and estimate, in a
    family of ``family`` comparisons (planned at the family's α ÷ family: Bonferroni bounds the correction)."""
    if row["verdict"] != Verdict.INCONCLUSIVE or not np.isfinite(row.get("sd_log", np.nan)):
        return np.nan
    scale = row.get("scale") or verdicts.RATIO
    estimate = row["difference"] if scale == verdicts.DIFFERENCE else np.log(row["ratio"])
    needed = verdicts.units_needed(row["sd_log"], estimate, delta, scale=scale, alpha=row["alpha"] / family)
    return float(needed) if needed < verdicts.CAP else np.nan  # an estimate on the margin: no number decides it


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
    difference = row.get("scale") == verdicts.DIFFERENCE
    if row["verdict"] == Verdict.DIFFERENT:
        if difference:
            points = row["difference"] * 100
            better = (schema.better(row["metric"]) == "lower") == (points < 0)
            return (f"{row['contender']}'s {label} is {abs(points):.1f} points {'lower' if points < 0 else 'higher'} "
                    f"than {row['baseline']}'s ({'better' if better else 'worse'})")
        change = (ratio - 1) * 100
        better = (schema.better(row["metric"]) == "lower") == (ratio < 1)
        return (f"{row['contender']}'s {label} is {abs(change):.1f}% {'lower' if change < 0 else 'higher'} than "
                f"{row['baseline']}'s ({'better' if better else 'worse'})")
    if row["verdict"] == Verdict.EQUIVALENT:
        within = f"±{delta * 100:.0f} points" if difference else f"±{delta:.0%}"
        return f"{label}: {row['contender']} and {row['baseline']} within {within}"
    if row["verdict"] == Verdict.INCONCLUSIVE:
        unit = row.get("unit") or "unit"
        needed = row.get("units_needed")
        if needed is not None and np.isfinite(needed):
            more = f"about {int(needed)} {unit}s (it has {int(row['units'])}) would decide it with an 80% chance"
        elif np.isfinite(row.get("sd_log", np.nan)):
            more = f"its estimate sits on the ±{delta:.0%} margin, so no number of {unit}s plans a decision"
        else:
            more = f"more {unit}s would tell"
        return f"{label}: not resolved at ±{delta:.0%} ({row.get('reason') or 'the interval is too wide'}); {more}"
    return f"{label}: {row.get('reason') or 'too few independent units'}"


def components(summary: pd.DataFrame, delta: float = verdicts.DELTA) -> pd.DataFrame:
    """Where the noise of each run-time comparison lives. Per block the log ratio contender ÷ baseline; a mixed
    model (statsmodels ``MixedLM``: a random intercept per start) splits its variance into *between starts* and
    *within a start* (between blocks); ``starts_for_delta`` is how many start pairs give an 80% chance of
    *equivalent* at ±δ when the true ratio is 1 (t-based, :func:`mqbench.stats.verdicts.units_needed`, from the
    per-start spread τ² + σ²/blocks)."""
    if not {"unit", "start", "block", "variant"} <= set(summary):
        return pd.DataFrame()
    rows = results.rows(summary, unit=Unit.START, notebook=Notebook.SEARCH_QUERY,
                        sweep=schema.Sweep.BLOCKS if "sweep" in summary else None)
    out = []
    milvus, not_serial = _judged(milvus=True), _judged(not_serial=True)
    for group, contender, metric, d in _start_log_ratios(rows, ["start", "block"]):
        if metric in milvus or (group["phase"] in SERIAL_PHASES and metric in not_serial):
            continue
        fit = _split(d.reset_index(name="d"))
        if fit is None:
            continue
        between, within, per_start, blocks = fit
        out.append({**group, "metric": metric, "contender": contender,
                    "starts": int(d.index.get_level_values(0).nunique()), "blocks_per_start": blocks,
                    "sd_between_starts": float(np.sqrt(between)), "sd_within_start": float(np.sqrt(within)),
                    "sd_per_start": float(np.sqrt(per_start)),
                    "starts_for_delta": verdicts.units_needed(float(np.sqrt(per_start)), 0.0, delta)})
    table = pd.DataFrame(out)
    if len(table):
        table.insert(0, "what", [describe(row) for row in table.to_dict("records")])
    return table


def _start_log_ratios(rows: pd.DataFrame, index: list[str]):
    """For each run-time comparison of ``search_query``'s start rows (its keys, with the baseline): (keys,
    contender, metric, log ratios contender ÷ baseline indexed by ``index``, each cell a mean)."""
    rows = _per_cell(rows[rows["start"].notna() & rows["block"].notna()])
    if rows.empty or rows["variant"].nunique() < 2:
        return
    keys, metrics = compared()[Notebook.SEARCH_QUERY]
    keys = [k for k in keys if k in rows]
    rows = rows.assign(**{k: rows[k].astype(object).fillna("") for k in keys})
    for group, part in rows.groupby(keys, sort=False):
        order = verdicts.variant_order(part)
        named = {**dict(zip(keys, group if isinstance(group, tuple) else (group,))), "baseline": order[0]}
        for metric in (m for m in metrics if m in part and part[m].notna().any()):
            wide = part.pivot_table(index=index, columns="variant", values=metric, aggfunc="mean")
            for contender in (c for c in order[1:] if c in wide and order[0] in wide):
                with np.errstate(divide="ignore", invalid="ignore"):
                    d = np.log(wide[contender] / wide[order[0]]).replace([np.inf, -np.inf], np.nan).dropna()
                yield named, contender, metric, d


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


def interaction(summary: pd.DataFrame) -> pd.DataFrame:
    """The MQ × build interaction of each run-time comparison whose start pairs served more than one build
    (``build_variant``): per start pair the log ratio contender ÷ baseline (block means), and between the builds
    the ratio of their geometric-mean ratios with a Welch 95% interval and p-value (q-values over the table). An
    interval that excludes 1 says the MQ's effect depends on the build it serves."""
    if not {"unit", "start", "build_variant", "variant"} <= set(summary):
        return pd.DataFrame()
    rows = results.rows(summary, unit=Unit.START, notebook=Notebook.SEARCH_QUERY)
    if "sweep" in rows:
        rows = rows[rows["sweep"].ne(schema.Sweep.WARMUP)]
    if rows["build_variant"].nunique() < 2:
        return pd.DataFrame()
    out = []
    not_serial = _judged(not_serial=True)
    for group, contender, metric, d in _start_log_ratios(rows, ["start", "build_variant"]):
        if group["phase"] in SERIAL_PHASES and metric in not_serial:
            continue
        by_build = {b: g.to_numpy() for b, g in d.groupby(level="build_variant")}
        if len(by_build) != 2 or min(len(g) for g in by_build.values()) < 2:
            continue
        (b1, x1), (b2, x2) = sorted(by_build.items())
        test = stats.ttest_ind(x2, x1, equal_var=False)
        low, high = test.confidence_interval(0.95)
        out.append({**group, "metric": metric, "contender": contender, "builds": f"{b2} ÷ {b1}",
                    "starts": f"{len(x2)} + {len(x1)}", "ratio_of_ratios": float(np.exp(x2.mean() - x1.mean())),
                    "ci_low": float(np.exp(low)), "ci_high": float(np.exp(high)), "p_value": float(test.pvalue)})
    table = pd.DataFrame(out)
    if len(table):
        table.insert(0, "what", [describe(row) for row in table.to_dict("records")])
        table["p_adjusted"] = verdicts.adjusted(table["p_value"].to_numpy())
    return table
