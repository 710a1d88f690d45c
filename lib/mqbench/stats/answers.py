"""The decision table: one line per question a Milvus user chooses an MQ by — reads, freshness, the write path,
memory, CPU, MQ disk, recovery, pub/sub through Milvus — taken from the Findings.

Each question names the Findings rows that answer it (:class:`Question` ``picks``, in the unit that question
needs — start pairs for run time, builds for the write path and what it costs) and says in words what the
verdict means and the smallest effect its interval rules out. One of them is the question's **primary**
comparison, named before any data (:func:`primaries`): it is the question's answer, and the primaries of a run
are corrected as their own family (:data:`mqbench.stats.verdicts.FAMILY_ALPHA`); the other rows stand behind it. The broker-level pub/sub op is not a question here: it compares Python client stacks (nats-py
publishing strictly, against an in-process RocksDB model of RocksMQ), not Milvus; it stays in the Findings and
the Table 1 section.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mqbench.core import schema, studies
from mqbench.core.schema import Unit, Verdict


@dataclass(frozen=True)
class Question:
    """A question and the Findings rows that answer it: ``picks`` are conditions on Findings columns (a value or a
    list of values), any one of which selects a row. The primary comparison is the first pick that matches,
    narrowed by ``primary`` (conditions that replace the pick's), and of several rows still matching the one with
    the most units, then the largest message (a pub/sub shape): a rule on the design, never on the outcome."""
    key: str
    text: str
    section: str        # the report section that holds the detail (an anchor)
    unit: str
    picks: tuple = ()
    primary: dict = field(default_factory=dict)


_BLOCKS = {"sweep": schema.Sweep.BLOCKS, "unit": Unit.START_PAIR}
_BUILD = {"unit": Unit.BUILD}
QUESTIONS = (
    Question("reads", "Do reads differ on the same data and index?", "findings", "start pair",
             ({**_BLOCKS, "phase": schema.Phase.SERIAL, "metric": "latency_avg_ms"},
              {**_BLOCKS, "phase": schema.Phase.CONCURRENT, "metric": "rps"},
              {"unit": Unit.START_PAIR, "metric": "recall_at_k"}),
             {"op": schema.Op.SEARCH}),
    Question("tick", "Do Strong reads and fresh rows wait longer (the time tick)?", "time-tick", "start pair",
             ({"phase": schema.Phase.TICK, "unit": Unit.START_PAIR,
               "metric": ["latency_avg_ms", "lag_avg_ms", "lag_km_median_ms"]},),
             {"op": schema.Op.INSERT_VISIBLE, "metric": "lag_km_median_ms"}),
    Question("write", "Do writes land faster (insert rows/s, time to flushed, index build)?", "write-path", "build",
             ({**_BUILD, "op": schema.Op.INSERT, "metric": "rows_per_s"},
              {**_BUILD, "op": schema.Op.FLUSH, "metric": ["flushed_s", "duration_s"]},
              {**_BUILD, "op": schema.Op.INDEX, "metric": "duration_s"})),
    Question("memory", "Does the server need more memory (peak while ingesting, at rest after the load)?",
             "write-path", "build",
             ({**_BUILD, "op": schema.Op.FLUSH, "metric": "ingest_rss_peak_mib"},
              {**_BUILD, "op": schema.Op.INSERT, "metric": "server_rss_peak_mib"},
              {"op": schema.Op.IDLE, "metric": "server_rss_mib"})),
    Question("cpu", "Does the server spend more CPU (per GB ingested, at rest, per read)?", "write-path", "build",
             ({**_BUILD, "op": schema.Op.INSERT, "metric": "server_cpu_s_per_gb"},
              {"op": schema.Op.IDLE, "metric": "server_cores_busy"},
              {**_BLOCKS, "metric": "server_cpu_ms_per_request"})),
    Question("disk", "Does the MQ keep more on disk per byte written?", "write-path", "build",
             ({**_BUILD, "op": schema.Op.FLUSH, "metric": "mq_disk_per_byte"},)),
    Question("recovery", "Does a killed server serve again sooner (its acknowledged rows, its collection loaded)?",
             "recovery", "start pair",
             ({"op": schema.Op.RECOVERY},)),
    Question("pubsub-milvus", "Does pub/sub through Milvus differ (inserts until Strong-visible)?", "table-1",
             "start pair", ({"phase": schema.Phase.MILVUS, "metric": "s_per_op"},)),
)


def questions() -> tuple[Question, ...]:
    """The decision table's questions: the ones above, then those the studies declare (:mod:`mqbench.core.studies`)."""
    return (*QUESTIONS, *(q for study in studies.declared().values() for q in study.questions))


def _matches(table: pd.DataFrame, pick: dict) -> pd.Series:
    mask = pd.Series(True, index=table.index)
    for column, wanted in pick.items():
        values = table[column] if column in table else pd.Series("", index=table.index)
        mask &= values.isin(wanted if isinstance(wanted, list) else [wanted])
    return mask


def _pick(table: pd.DataFrame, question: Question) -> pd.DataFrame:
    """The Findings rows that answer ``question``, in the order of its picks."""
    ranked = [table[_matches(table, pick)] for pick in question.picks]
    picked = pd.concat(ranked) if ranked else table.iloc[:0]
    return picked[~picked.index.duplicated()]


def _message_bytes(shape) -> float:
    """The message size of a pub/sub shape such as ``5MB*10`` (0 for anything else)."""
    found = re.match(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?B)\*", str(shape or ""))
    return float(found[1]) * 1024 ** "BKMG".index(found[2][0]) if found else 0.0


def primaries(table: pd.DataFrame) -> pd.Series:
    """Per Findings row, the key of the question it is the primary comparison of (each run apart), else ""."""
    out = pd.Series("", index=table.index, dtype=object)
    runs = table["run_id"].astype(str) if "run_id" in table else pd.Series("", index=table.index)
    rank = pd.DataFrame({"_run": runs, "_units": -table["units"].fillna(0) if "units" in table else 0,
                         "_size": -table["shape"].map(_message_bytes) if "shape" in table else 0.0})
    for q in questions():
        answered = pd.Series(False, index=table.index)
        for pick in q.picks:
            found = rank[_matches(table, {**pick, **q.primary}) & ~answered]
            if found.empty:
                continue
            first = found.sort_values(["_units", "_size"], kind="stable").groupby("_run", sort=False).head(1).index
            out[first] = q.key
            answered |= runs.isin(set(runs[first]))
    return out


def answers(table: pd.DataFrame, delta: float) -> pd.DataFrame:
    """One row per question and headline comparison: what, ratio, interval, verdict in words, units."""
    rows = []
    for q in questions():
        picked = _pick(table, q)
        if picked.empty:
            rows.append({"question": q.text, "section": q.section, "what": "not measured in this run", "ratio": np.nan,
                         "interval": "", "verdict": "", "in words": "", "rules out": "", "units": "", "key": q.key})
            continue
        for row in picked.to_dict("records"):
            rows.append({"question": q.text, "section": q.section, "what": _what(row), "finding": row["what"],
                         "primary": row.get("primary") == q.key,
                         "metric": row["metric"], "ratio": row["ratio"],
                         "interval": _interval(row), "verdict": row["verdict"], "in words": _words(row, delta),
                         "rules out": rules_out(row), "units": _units(row, q.unit), "key": q.key})
    return pd.DataFrame(rows)


def _what(row: dict) -> str:
    label = schema.label(row["metric"])
    where = " · ".join(str(row[k]) for k in ("op", "phase", "shape") if row.get(k) not in (None, "", np.nan)
                       and not (isinstance(row.get(k), float) and np.isnan(row[k])))
    return f"{label} ({where}), {row['contender']} ÷ {row['baseline']}"


def _units(row: dict, unit: str) -> str:
    n = int(row["units"])
    unit = row.get("unit") or unit
    return f"{n} {unit}{'' if n == 1 else 's'}"


def rules_out(row: dict) -> str:
    """What a row's interval rules out, in words: any effect beyond its bounds when it holds no effect; no effect,
    nor one short of its nearer bound, when it excludes none (a ratio in %, a difference in points)."""
    low, high = row.get("ci_low"), row.get("ci_high")
    if not (isinstance(low, float) and np.isfinite(low) and np.isfinite(high)):
        return ""
    difference = row.get("scale") == "difference"
    none = 0.0 if difference else 1.0
    nb = "\u00a0"  # bounds stay on one line
    size = (lambda x: f"{100 * abs(x):.1f}{nb}points") if difference else (lambda x: f"{abs(x - 1):.0%}")
    if low <= none <= high:
        return f"beyond −{size(low)}{nb}/{nb}+{size(high)}"
    return f"none, nor one below {'+' if low > none else '−'}{size(low if low > none else high)}"


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
    """One row per question: its primary comparison (:func:`primaries`); in a table from before primaries, its
    *different* comparison with the largest effect, else its first; ``compared_n`` counts the comparisons that
    answer it (all in the Findings)."""
    rows = []
    for key, part in box.groupby("key", sort=False):
        primary = part[part["primary"].fillna(False).astype(bool)] if "primary" in part else part.iloc[:0]
        different = part[part["verdict"] == Verdict.DIFFERENT]
        pick = primary.iloc[0] if len(primary) else different.iloc[
            np.argmax(np.abs(np.log(different["ratio"].astype(float))))] if len(different) else part.iloc[0]
        rows.append({**pick.to_dict(), "compared_n": len(part) if pd.notna(pick["ratio"]) else 0})
    return pd.DataFrame(rows)


def box(table: pd.DataFrame, delta: float, link=None) -> pd.DataFrame:
    """The answer box as a page shows it: one headline per question (:func:`headlines`), its ratio with the
    interval, the verdict in words and how many more comparisons stand behind it; ``link(question, section)``
    makes the question cell (a question this run did not measure is never linked). Where every row compares the
    same two variants, the pair is said once, in the ratio's header."""
    heads = headlines(answers(table, delta))
    nb = "\u00a0"  # a ratio and its interval stay on one line
    question = [link(q, s) if link and pd.notna(r) else html.escape(q)
                for q, s, r in zip(heads["question"], heads["section"], heads["ratio"])]
    pairs = {w.rsplit(", ", 1)[1] for w in heads["what"] if ", " in w}
    single = len(pairs) == 1
    header = f"{next(iter(pairs))} [95%]" if single else "ratio [95%]"
    compared = [w.rsplit(", ", 1)[0] if single and ", " in w else w for w in heads["what"]]
    more = [f" (+{int(n) - 1} more)" if pd.notna(n) and n > 1 else "" for n in heads["compared_n"]]
    return pd.DataFrame({"question": question, "verdict": heads["verdict"],
                         header: [f"{r:.3f}{nb}{i.replace(' ', nb)}" if pd.notna(r) else ""
                                  for r, i in zip(heads["ratio"], heads["interval"])],
                         "in words": heads["in words"], "rules out": heads["rules out"],
                         "compared": [c + m for c, m in zip(compared, more)], "units": heads["units"]})
