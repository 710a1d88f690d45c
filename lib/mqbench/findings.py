"""The Findings: one line per compared metric — verdict, ratio, interval, units — what a report opens with.

Comparisons come from rows that carry a ``block``: paired blocks of requests on servers side by side
(``search_query``), pub/sub ops on brokers side by side (``pubsub``), and pairs of server starts
(``freshness_recovery``'s time-tick study, ``unit == "start"``). A metric that waits for Milvus's time
tick (Strong reads, insert→visible) is fixed per server start, so blocks within one start are not
independent for it: it gets a verdict only from the tick study's starts. Recall is fixed per index build
(every block searches the same graph), so it too gets no verdict from blocks. Loads and index builds happen
once per server and are listed with their single observation.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import schema, verdicts
from .metrics import METRICS

# notebook -> (grouping keys, metrics compared)
COMPARED = {
    "search_query": (["sweep", "op", "phase", "concurrency", "point", "consistency_level"],
                     ["latency_avg_ms", "latency_p50_ms", "latency_p99_ms", "rps", "recall_at_k"]),
    "pubsub": (["op", "phase", "shape"], ["s_per_op"]),
    # per start, the mean: defined for any number of samples (a start's median needs 20)
    "freshness_recovery": (["op", "phase", "consistency_level", "batch_rows"], ["latency_avg_ms", "lag_avg_ms"]),
}
NOT_FOR_SERIAL = {"rps"}  # a serial phase's rate is only its latency inverted
LOAD_METRICS = {schema.OP_INSERT: "rows_per_s", schema.OP_INDEX: "duration_s", schema.OP_FLUSH: "duration_s",
                schema.OP_LOAD: "duration_s"}
TICK_REASON = ("waits for Milvus's time tick, fixed per server start: the unit is the start, not the block "
               "(see the time-tick study of freshness_recovery.ipynb)")
BUILD_METRICS = {"recall_at_k"}
BUILD_REASON = ("fixed per index build: every block searches the same graph, so one build per variant is one "
                "unit (two RocksMQ servers fed the same rows in the same order built graphs 4.5% apart in recall)")
ORDER = {"different": 0, "equivalent": 1, "inconclusive": 2, "insufficient data": 3}


def _tick_bound(rows: pd.DataFrame) -> pd.Series:
    strong = pd.Series(False, index=rows.index)
    for column in ("consistency_level", "consistency"):
        if column in rows:
            level = rows[column] if column == "consistency_level" else rows[column].where(
                rows.get("consistency_level", pd.Series(index=rows.index)).isna())
            strong |= level.eq("Strong")
    per_start = rows["unit"].eq("start") if "unit" in rows else False
    return (strong | rows["op"].eq(schema.OP_INSERT_VISIBLE)) & ~per_start


def _blocked(summary: pd.DataFrame) -> list[pd.DataFrame]:
    """Comparisons over blocks, notebook by notebook."""
    ok = summary[(summary["status"] == "ok")] if "status" in summary else summary
    if "block" not in ok or "variant" not in ok:
        return []
    ok = ok[ok["block"].notna()]
    out = []
    for notebook, (keys, metrics) in COMPARED.items():
        rows = ok[ok["notebook"] == notebook]
        if rows.empty:
            continue
        keys = [k for k in keys if k in rows]
        rows = rows.assign(**{k: rows[k].astype(object).fillna("") for k in keys})
        serial = rows["phase"] == schema.PHASE_SERIAL
        tables = [verdicts.compare(part, [m for m in metrics if not (is_serial and m in NOT_FOR_SERIAL)], keys,
                                   unit="block", correct_family=False)
                  for is_serial, part in ((True, rows[serial]), (False, rows[~serial])) if len(part)]
        table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
        if len(table):
            held_keys = rows.loc[_tick_bound(rows), keys].drop_duplicates()
            held = table.merge(held_keys, on=keys, how="left", indicator=True)["_merge"].eq("both").to_numpy()
            table = _withhold(table, held, TICK_REASON)
            built = (table["metric"].isin(BUILD_METRICS) & table["verdict"].ne("insufficient data")).to_numpy()
            table = _withhold(table, built, BUILD_REASON, units=1)
        out.append(table.assign(notebook=notebook))
    return out


def _withhold(table: pd.DataFrame, mask, reason: str, **also) -> pd.DataFrame:
    """The rows under ``mask`` keep their ratio but get no verdict: no interval, no p-value, the reason."""
    table = table.copy()
    table.loc[mask, ["ci_low", "ci_high", "p_value"]] = np.nan
    table.loc[mask, ["verdict", "reason"]] = ["insufficient data", reason]
    for column, value in also.items():
        table.loc[mask, column] = value
    return table


def _loads(summary: pd.DataFrame) -> pd.DataFrame:
    """Load phases: one observation per variant and server, so as many units as servers per variant."""
    ok = summary[(summary["status"] == "ok") & summary["op"].isin(list(LOAD_METRICS))] if "op" in summary else summary
    if ok.empty or "variant" not in ok or ok["variant"].nunique() < 2:
        return pd.DataFrame()
    frames = []
    for (notebook, op), rows in ok.groupby(["notebook", "op"]):
        rows = rows.assign(unit=rows.groupby("variant").cumcount())
        frames.append(verdicts.compare(rows, [LOAD_METRICS[op]], ["op", "phase"], unit="unit",
                                       correct_family=False).assign(notebook=notebook))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def findings(summary: pd.DataFrame, delta: float | None = None) -> pd.DataFrame:
    """Every comparison of the run, corrected as one family, sorted: different ones first (largest effect
    first), then equivalent, inconclusive, insufficient data; with a one-line ``reading``."""
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
    table["effect"] = np.abs(np.log(table["ratio"].astype(float)))
    table = table.sort_values(["verdict", "effect"], key=lambda s: s.map(ORDER) if s.name == "verdict" else -s)
    columns = ["notebook", "what", "metric", "baseline", "contender", "verdict", "ratio", "ci_low", "ci_high",
               "units", "baseline_median", "contender_median", "reading", "reason", "p_value", "p_adjusted"]
    return table[[c for c in columns if c in table]].reset_index(drop=True)


def _given(value) -> bool:
    return value not in (None, "") and not (isinstance(value, float) and np.isnan(value))


def describe(row: dict) -> str:
    """``search · serial · blocks`` style label of what was compared."""
    parts = [row.get(k) for k in ("op", "phase", "shape", "point", "consistency_level", "sweep")]
    concurrency = row.get("concurrency")
    if _given(concurrency) and concurrency != 0 and row.get("phase") != schema.PHASE_SERIAL:
        parts.append(f"c={int(float(concurrency))}")
    if _given(row.get("batch_rows")):
        parts.append(f"{int(float(row['batch_rows']))} rows/batch")
    return " · ".join(dict.fromkeys(str(p) for p in parts if _given(p)))


def reading(row: dict, delta: float) -> str:
    """One sentence: what the verdict says in the metric's own terms."""
    metric = METRICS.get(row["metric"])
    label = metric.label if metric else row["metric"]
    ratio = row["ratio"]
    if row["verdict"] == "different":
        change = (ratio - 1) * 100
        better = metric and ((metric.better == "lower") == (ratio < 1))
        return (f"{row['contender']}'s {label} is {abs(change):.1f}% {'lower' if change < 0 else 'higher'} than "
                f"{row['baseline']}'s ({'better' if better else 'worse'})")
    if row["verdict"] == "equivalent":
        return f"{label}: {row['contender']} and {row['baseline']} within ±{delta:.0%}"
    if row["verdict"] == "inconclusive":
        return f"{label}: not resolved at ±{delta:.0%} — more blocks would tell"
    return f"{label}: {row.get('reason') or 'too few independent units'}"
