"""The answer box: one line per question a Milvus user asks about the MQ, taken from the Findings.

Each question names the Findings rows that answer it (a headline metric per question, in the unit that
question needs — start pairs for run time, builds for ingest, blocks for pub/sub) and says in words what the
verdict means. The broker-level pub/sub op is not a question here: it compares Python client stacks (nats-py
publishing strictly, against an in-process RocksDB model of RocksMQ), not Milvus; it stays in the Findings and
the Table 1 section.
"""
from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mqbench.core import schema
from mqbench.core.schema import Unit, Verdict


@dataclass(frozen=True)
class Question:
    key: str
    text: str
    section: str        # the report section that holds the detail (an anchor)
    unit: str


QUESTIONS = (
    Question("reads", "Do reads differ on the same data and index?", "findings", "start pair"),
    Question("tick", "Do Strong reads and fresh rows wait longer (the time tick)?", "time-tick", "start pair"),
    Question("ingest", "Does ingest or the index build differ (each MQ's own build)?", "load-phases", "build"),
    Question("pubsub-milvus", "Does pub/sub through Milvus differ (inserts until Strong-visible)?", "table-1",
             "start pair"),
)


def _pick(table: pd.DataFrame, key: str) -> pd.DataFrame:
    """The Findings rows that answer question ``key``."""
    get = lambda column: table[column] if column in table else pd.Series("", index=table.index)  # noqa: E731
    sweep, op, phase, metric = get("sweep"), get("op"), get("phase"), get("metric")
    if key == "reads":
        mask = ((sweep == schema.Sweep.BLOCKS) & (get("unit") == Unit.START_PAIR)
                & (((phase == schema.Phase.SERIAL) & (metric == "latency_avg_ms"))
                   | ((phase == schema.Phase.CONCURRENT) & (metric == "rps"))
                   | (metric == "recall_at_k")))
    elif key == "tick":
        mask = (phase == schema.Phase.TICK) & (get("unit") == Unit.START_PAIR) & metric.isin(["latency_avg_ms", "lag_avg_ms"])
    elif key == "ingest":
        mask = (get("unit") == Unit.BUILD) & op.isin([schema.Op.INSERT, schema.Op.INDEX])
    else:
        mask = (phase == schema.Phase.MILVUS) & (metric == "s_per_op")
    picked = table[mask]
    ops = {schema.Op.SEARCH: 0, schema.Op.QUERY: 1}
    rank = [(PRIORITY.get(r.get("metric"), 9), ops.get(r.get("op"), 2), r.get("phase") == schema.Phase.CONCURRENT)
            for r in picked.to_dict("records")]
    return picked.iloc[sorted(range(len(picked)), key=rank.__getitem__)]


PRIORITY = {"latency_avg_ms": 0, "lag_avg_ms": 1, "rows_per_s": 0, "s_per_op": 0, "rps": 2, "recall_at_k": 3,
            "duration_s": 4}  # the headline of a question: its first metric in this order


def answers(table: pd.DataFrame, delta: float) -> pd.DataFrame:
    """One row per question and headline comparison: what, ratio, interval, verdict in words, units."""
    rows = []
    for q in QUESTIONS:
        picked = _pick(table, q.key)
        if picked.empty:
            rows.append({"question": q.text, "section": q.section, "what": "not measured in this run", "ratio": np.nan,
                         "interval": "", "verdict": "", "in words": "", "units": "", "key": q.key})
            continue
        for row in picked.to_dict("records"):
            rows.append({"question": q.text, "section": q.section, "what": _what(row), "finding": row["what"],
                         "metric": row["metric"], "ratio": row["ratio"],
                         "interval": _interval(row), "verdict": row["verdict"], "in words": _words(row, delta),
                         "units": f"{int(row['units'])} {row.get('unit') or q.unit}s", "key": q.key})
    return pd.DataFrame(rows)


def _what(row: dict) -> str:
    label = schema.label(row["metric"])
    where = " · ".join(str(row[k]) for k in ("op", "phase", "shape") if row.get(k) not in (None, "", np.nan)
                       and not (isinstance(row.get(k), float) and np.isnan(row[k])))
    return f"{label} ({where}), {row['contender']} ÷ {row['baseline']}"


def _interval(row: dict) -> str:
    low, high = row.get("ci_low"), row.get("ci_high")
    return f"[{low:.3f}, {high:.3f}]" if isinstance(low, float) and np.isfinite(low) else "—"


def _words(row: dict, delta: float) -> str:
    verdict, ratio = row["verdict"], row["ratio"]
    if verdict == Verdict.DIFFERENT:
        better = (schema.better(row["metric"]) == "lower") == (ratio < 1)
        return f"{row['contender']} {'better' if better else 'worse'} by {abs(ratio - 1):.0%}"
    if verdict == Verdict.EQUIVALENT:
        return f"no practical difference (within ±{delta:.0%})"
    if verdict == Verdict.INCONCLUSIVE:
        needed = row.get("units_needed")
        unit = row.get("unit") or "unit"
        return (f"not resolved at ±{delta:.0%}: about {int(needed)} {unit}s would decide it" if needed is not None
                and np.isfinite(needed) else f"not resolved at ±{delta:.0%}: more {unit}s would tell")
    return f"an observation, not a verdict ({row.get('reason') or 'too few units'})"


def headlines(box: pd.DataFrame) -> pd.DataFrame:
    """One row per question: its *different* comparison with the largest effect, else its first comparison;
    ``also`` counts the other comparisons behind it (all in the Findings)."""
    rows = []
    for key, part in box.groupby("key", sort=False):
        different = part[part["verdict"] == Verdict.DIFFERENT]
        pick = different.iloc[np.argmax(np.abs(np.log(different["ratio"].astype(float))))] if len(different) \
            else part.iloc[0]
        counts = part["verdict"].value_counts()
        others = ", ".join(f"{n} {v}" for v, n in counts.items() if v) if len(part) > 1 else ""
        rows.append({**pick.to_dict(), "also": f"{len(part)} compared: {others}" if others else ""})
    return pd.DataFrame(rows)


def box(table: pd.DataFrame, delta: float, link=None) -> pd.DataFrame:
    """The answer box as a page shows it: one headline per question (:func:`headlines`), its ratio with the
    interval, the verdict in words and what else stands behind it; ``link(question, section)`` makes the question
    cell (a question this run did not measure is never linked)."""
    heads = headlines(answers(table, delta))
    nb = "\u00a0"  # a ratio and its interval stay on one line
    question = [link(q, s) if link and pd.notna(r) else html.escape(q)
                for q, s, r in zip(heads["question"], heads["section"], heads["ratio"])]
    return pd.DataFrame({"question": question, "verdict": heads["verdict"],
                         "ratio [95%]": [f"{r:.3f}{nb}{i.replace(' ', nb)}" if pd.notna(r) else ""
                                         for r, i in zip(heads["ratio"], heads["interval"])],
                         "in words": heads["in words"],
                         "compared": [f"{w} ({a})" if a else w for w, a in zip(heads["what"], heads["also"])],
                         "units": heads["units"]})
