"""Every figure the README and the docs state about a published run, made from that run's files by code.

A doc holds generated blocks between ``<!-- mqbench:generated NAME -->`` and ``<!-- /mqbench:generated -->``.
``mqbench docs`` rewrites them from the runs in ``reports/`` (their roles: ``reports/roles.yaml``);
``tests/unit/test_statements.py`` fails when a block and its runs disagree. Only what a published
``manifest.json`` or ``summary.parquet`` holds is stated.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from mqbench.core import mqs, results, schema, studies
from mqbench.core.paths import PROJECT_ROOT
from mqbench.core.schema import LOAD_OPS, Op, Phase, Sweep, Unit, Verdict
from mqbench.report import tables
from mqbench.stats import answers, findings

REPORTS = PROJECT_ROOT / "reports"
DOCS = [PROJECT_ROOT / "README.md", PROJECT_ROOT / "docs" / "time-tick.md", PROJECT_ROOT / "docs" / "scale.md",
        PROJECT_ROOT / "docs" / "results.md", PROJECT_ROOT / "docs" / "measurement.md", PROJECT_ROOT / "docs" / "pubsub.md"]
BLOCK = re.compile(r"(<!-- mqbench:generated ([\w-]+) -->\n)(.*?)(<!-- /mqbench:generated -->)", re.S)
SHORT = {"reference-1": "run 1", "reference-2": "run 2", "aa": "A/A"}
ROLE_TEXT = {"reference-1": "the main job, reference run 1", "reference-2": "the main job, reference run 2",
             "aa": "the main job as an A/A run (both sides RocksMQ)",
             "verdict-100m": "the 10^8 verdict: one build served under each MQ over start pairs",
             "ingest-10m": "the ingest verdict: 5 builds of 10^7 rows per MQ",
             "versions-2.3": "Milvus 2.3.5 against 2.3.0 under NATS: 5 builds per release and pub/sub through "
                             "Milvus over 5 start pairs",
             "deployments": "two mqbench server processes (RocksMQ and NATS) measured by URI side by side, restarted by "
                            "their restart commands: 5 builds each, 2 start pairs per build",
             "deployments-embedded": "the same workload on two embedded servers (its embedded counterpart)"}


def roles(reports: Path = REPORTS) -> dict[str, str]:
    """role -> run folder name, from ``reports/roles.yaml``."""
    path = reports / "roles.yaml"
    return yaml.safe_load(path.read_text()) if path.exists() else {}


class Published:
    """The published runs by role, their summaries and Findings read once."""

    def __init__(self, reports: Path = REPORTS):
        self.reports, self.roles = reports, roles(reports)
        self._summary, self._findings = {}, {}

    def has(self, role: str) -> bool:
        return role in self.roles and (self.reports / self.roles[role] / "summary.parquet").exists()

    def summary(self, role: str) -> pd.DataFrame:
        if role not in self._summary:
            self._summary[role] = results.load_summary(self.reports / self.roles[role])
        return self._summary[role]

    def findings(self, role: str) -> pd.DataFrame:
        if role not in self._findings:
            self._findings[role] = findings.findings(self.summary(role))
        return self._findings[role]

    def manifest(self, role: str) -> dict:
        return results.read_manifest(self.reports / self.roles[role])


def _cell(table: pd.DataFrame, what: str, metric: str) -> str:
    row = table[(table["what"] == what) & (table["metric"] == metric)]
    if row.empty:
        return "—"
    r = row.iloc[0]
    interval = f" [{r['ci_low']:.3f}, {r['ci_high']:.3f}]" if np.isfinite(r["ci_low"]) else ""
    return f"{r['ratio']:.3f}{interval} {r['verdict']}"


def block_findings(pub: Published) -> str:
    """The answer to each question in the reference runs and the A/A run, side by side."""
    roles_ = [r for r in ("reference-1", "reference-2", "aa") if pub.has(r)]
    if not roles_:
        return "No reference run is published yet.\n"
    base = answers.answers(pub.findings(roles_[0]), 0.05)
    base = base[base["ratio"].notna()]
    header = "| question | compared | " + " | ".join(SHORT[r] for r in roles_) + " |"
    lines = [header, "|" + "---|" * (2 + len(roles_))]
    for row in base.to_dict("records"):
        cells = [_cell(pub.findings(role), row["finding"], row["metric"]) for role in roles_]
        lines.append(f"| {row['question']} | {row['what'].rsplit(',', 1)[0]} | " + " | ".join(cells) + " |")
    counts = "; ".join(f"{SHORT[r]}: " + ", ".join(
        f"{n} {v}" for v, n in pub.findings(r)["verdict"].value_counts().items()) for r in roles_)
    return ("Ratio *contender ÷ baseline* (natsmq ÷ rocksmq; in the A/A run rocksmq-2 ÷ rocksmq-1) with its 95% "
            "interval and verdict at δ = 5%, from each run's `summary.parquet` (`mqbench.stats.answers`):\n\n"
            + "\n".join(lines) + f"\n\nVerdicts over every comparison of each run — {counts}.\n")


def block_runs(pub: Published) -> str:
    """One line per published run: its role, commit and how long each notebook took."""
    lines = []
    for role, name in pub.roles.items():
        if not pub.has(role):
            continue
        m = pub.manifest(role)
        took = sum(t.get("elapsed_s", 0) for t in m.get("timings", []))
        time = f", {took / 60:.1f} min of notebook execution" if took else ""
        host = m.get("host", {})
        lines.append(f"- [`{name}`](reports/{name}/report.html) — {ROLE_TEXT.get(role, role)}: commit "
                     f"`{m.get('git_sha')}`, {m.get('created_utc', '')[:16].replace('T', ' ')} UTC, "
                     f"{host.get('logical_cores', '?')} logical cores, {host.get('ram_gb', '?')} GB{time}.")
    return "\n".join(lines) + "\n"


def block_tick(pub: Published) -> str:
    """Per-start means of the Strong reads and insert→visible lags in the reference runs, with the verdicts."""
    out = []
    for role in ("reference-1", "reference-2", "aa"):
        if not pub.has(role):
            continue
        tick = tables.tick(pub.summary(role))
        if tick.empty:
            continue
        table = tick.groupby(["kind", "variant"])["mean_ms"].agg(["min", "median", "max", "count"]).round(0)
        verdicts = pub.findings(role)
        verdicts = results.rows(verdicts, phase=schema.Phase.TICK, unit=Unit.START_PAIR)
        parts = findings.components(pub.summary(role))
        out.append(f"**{ROLE_TEXT[role]}** (`{pub.roles[role]}`): per-start means in ms, min / median / max over "
                   f"{int(table['count'].max())} starts per variant (`mqbench.report.tables.tick`):\n")
        out.append("| kind | " + " | ".join(table.index.get_level_values(1).unique()) + " | ratio [95%] | verdict |")
        out.append("|---|" + "---|" * (table.index.get_level_values(1).nunique() + 2))
        for kind, part in table.groupby(level=0):
            cells = [f"{r['min']:.0f} / {r['median']:.0f} / {r['max']:.0f}" for _, r in part.iterrows()]
            metric = "lag_avg_ms" if kind.startswith("insert") else "latency_avg_ms"
            op = {"Strong search": schema.Op.SEARCH, "Strong query": schema.Op.QUERY}.get(kind, schema.Op.INSERT_VISIBLE)
            v = results.rows(verdicts, op=op, metric=metric)
            ratio = f"{v['ratio'].iloc[0]:.3f} [{v['ci_low'].iloc[0]:.3f}, {v['ci_high'].iloc[0]:.3f}]" if len(v) else "—"
            out.append(f"| {kind} | " + " | ".join(cells) + f" | {ratio} | {v['verdict'].iloc[0] if len(v) else '—'} |")
        out.append("")
        if len(parts):
            serial = parts[parts["metric"] == "latency_avg_ms"]
            out.append("Where the noise of the run-time reads lives (`mqbench.stats.findings.components`, log ratios): " + "; ".join(
                f"{r['what']}: sd between starts {r['sd_between_starts']:.3f}, within a start "
                f"{r['sd_within_start']:.3f}, start pairs for ±5%: {r['starts_for_delta']}"
                for r in serial.to_dict("records")) + ".\n")
    return "\n".join(out) + "\n" if out else "No reference run is published yet.\n"


def _verdict(table: pd.DataFrame, **where) -> dict | None:
    """The one comparison of ``table`` matching ``where`` (by the row selector), as a dict."""
    rows = results.rows(table, **where)
    return rows.iloc[0].to_dict() if len(rows) else None


def _ratio(v: dict | None) -> str:
    """``contender ÷ baseline`` of one comparison, its interval, verdict and units."""
    if v is None:
        return "—"
    interval = f" [{v['ci_low']:.3f}, {v['ci_high']:.3f}]" if np.isfinite(v.get("ci_low", np.nan)) else ""
    return (f"{v['contender']} ÷ {v['baseline']} {v['ratio']:.3f}{interval} {v['verdict']} "
            f"({int(v['units'])} {v.get('unit') or 'unit'}s)")


def _span(values: pd.Series, fmt: str) -> str:
    """``a–b`` over ``values``, or ``a`` when they are all the same."""
    low, high = fmt.format(values.min()), fmt.format(values.max())
    return low if low == high else f"{low}–{high}"


def seed_claim(v: dict | None) -> str:
    """Whether the seed's "NATS is faster at 100M" holds for one latency verdict between natsmq and rocksmq."""
    if v is None or v["verdict"] in (Verdict.INCONCLUSIVE, Verdict.INSUFFICIENT):
        return "cannot be told on this host"
    if v["verdict"] == Verdict.EQUIVALENT:
        return "fails: no difference beyond ±5%"
    nats_over_rocks = v["ratio"] if mqs.of(v["contender"]) == mqs.MQ.NATSMQ else 1 / v["ratio"]
    return "holds: NATS faster" if nats_over_rocks < 1 else "fails: NATS slower"


def block_scale(pub: Published) -> str:
    """The 10^8 verdict: one build, served under each MQ over pairs of starts at the operating point."""
    if not pub.has("verdict-100m"):
        return "No 10^8 verdict run is published yet.\n"
    s, table, m = pub.summary("verdict-100m"), pub.findings("verdict-100m"), pub.manifest("verdict-100m")
    row = s.iloc[0]
    build = results.rows(s, op=list(LOAD_OPS[1:]), phase=Phase.LOAD)
    phases = "\n".join(f"| {r['op']} | {r['duration_s']:,.0f} | {r.get('rows_per_s', np.nan):,.0f} | "
                       f"{r['server_rss_peak_mib'] / 1024:.1f} | {r['mq_storage_bytes'] / 1e9:.1f} |"
                       for r in build.to_dict("records"))
    curve = tables.operating_point(s)
    points = ", ".join(f"{r['point']}: recall {r['recall_at_k']:.3f}, {r['latency_avg_ms']:.1f} ms"
                       + (" (**operating point**)" if r["operating_point"] else "") for r in curve.to_dict("records"))
    starts = tables.served_starts(s)
    served = "; ".join(
        f"{variant}: {len(g)} starts, rows counted {', '.join(f'{x:,.0f}' for x in sorted(set(g['rows_counted'])))}, "
        f"{_span(g['segments'], '{:.0f}')} segments of {g['segment_rows_min'].min():,.0f}–"
        f"{g['segment_rows_max'].max():,.0f} rows, idle server CPU {g['idle_server_cores_busy'].median():.1%} of a core "
        f"(median)" for variant, g in starts.groupby("variant"))
    blocks = dict(sweep=Sweep.BLOCKS, unit=Unit.START_PAIR)
    compared = [("serial search, mean", dict(blocks, op=Op.SEARCH, phase=Phase.SERIAL, metric="latency_avg_ms")),
                ("serial query, mean", dict(blocks, op=Op.QUERY, phase=Phase.SERIAL, metric="latency_avg_ms")),
                ("search RPS, 4 clients", dict(blocks, op=Op.SEARCH, phase=Phase.CONCURRENT, metric="rps")),
                ("query RPS, 4 clients", dict(blocks, op=Op.QUERY, phase=Phase.CONCURRENT, metric="rps")),
                ("Strong search", dict(op=Op.SEARCH, phase=Phase.TICK, metric="latency_avg_ms")),
                ("insert→visible", dict(op=Op.INSERT_VISIBLE, phase=Phase.TICK, metric="lag_avg_ms"))]
    verdicts_ = "\n".join(f"| {what} | {_ratio(_verdict(table, **where))} |" for what, where in compared)
    search, query = (_verdict(table, **compared[i][1]) for i in (0, 1))
    return (f"Run `{pub.roles['verdict-100m']}` (commit `{m.get('git_sha')}`): {row['data_n']:,.0f} rows of "
            f"`{row['data_name']}` ({row['data_dim']:.0f}-d; its queries' relative contrast {row['data_rc']:.2f}, "
            f"LID {row['data_lid']:.1f} over {row['data_difficulty_k']:.0f} neighbours), built once through "
            f"{row['build_variant']}'s insert path with {row['index_type']} {row['index_params']}:\n\n"
            "| build phase | seconds | rows/s | server peak RSS GiB | MQ store GB |\n|---|---|---|---|---|\n"
            f"{phases}\n\nThe operating point, on the build (serial search, recall@{row['k']:.0f}): {points}.\n\n"
            f"Served under each MQ in turn, one server in memory at a time: {served}.\n\n"
            "Over start pairs (95% interval, δ = 5%):\n\n| compared | ratio, verdict |\n|---|---|\n"
            f"{verdicts_}\n\nThe seed's claim at 100M (NATS faster: search 20.17 vs 23.55 ms, query 6.74 vs 7.2): "
            f"for search it {seed_claim(search)}; for query it {seed_claim(query)}.\n")


def block_ingest(pub: Published) -> str:
    """The ingest verdict at 10^7 rows: builds as the unit."""
    if not pub.has("ingest-10m"):
        return "No 10^7 ingest run is published yet.\n"
    s, table = pub.summary("ingest-10m"), pub.findings("ingest-10m")
    inserts = results.rows(s, op=Op.INSERT, phase=Phase.LOAD)
    per_mq = "\n".join(
        f"| {mq} | {len(g)} | {g['rows_per_s'].mean():,.0f} ({g['rows_per_s'].min():,.0f}–{g['rows_per_s'].max():,.0f}) | "
        f"{g['mq_storage_bytes'].mean() / 1e9:.2f} | {g['server_rss_peak_mib'].max() / 1024:.1f} |"
        for mq, g in inserts.groupby("mq"))
    insert = _verdict(table, op=Op.INSERT, metric="rows_per_s")
    flush = _verdict(table, op=Op.FLUSH, metric="duration_s")
    return (f"Run `{pub.roles['ingest-10m']}` (commit `{pub.manifest('ingest-10m').get('git_sha')}`): "
            f"{inserts['data_n'].iloc[0]:,.0f} rows through each MQ's insert path and flushed, a fresh server per "
            "build, the builds interleaved:\n\n| MQ | builds | insert rows/s, mean (min–max) | MQ store GB | "
            f"server peak RSS GiB |\n|---|---|---|---|---|\n{per_mq}\n\nOver builds (95% interval, δ = 5%): insert rows/s "
            f"{_ratio(insert)}; flush seconds {_ratio(flush)}.\n")


def agreement(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    """Two runs' Findings side by side, per comparison both decided with an interval: a heterogeneity test of the
    two estimates (Cochran's Q on the log ratios, or differences, with each standard error from its t-interval; one
    degree of freedom), its p-value, the Benjamini–Hochberg q-value over the comparisons, and whether both call
    "different" in opposite directions. Two clean runs of the same code disagree where ``q`` ≤ 0.05."""
    from scipy import stats

    from mqbench.stats import verdicts

    keys = ["what", "metric", "contender"]
    both = first.merge(second, on=keys, suffixes=("_1", "_2"))
    both = both[np.isfinite(both["ci_low_1"]) & np.isfinite(both["ci_low_2"])]
    if both.empty:
        return both.assign(q=[], p=[], opposite=[])

    def estimate(side: str) -> tuple[pd.Series, pd.Series]:
        t = stats.t.ppf(0.975, both[f"units_{side}"].astype(float) - 1)
        difference = both.get(f"scale_{side}", pd.Series("ratio", index=both.index)).eq("difference")
        low, high = both[f"ci_low_{side}"].astype(float), both[f"ci_high_{side}"].astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(difference, both.get(f"difference_{side}", np.nan), np.log(both[f"ratio_{side}"]))
            se = np.where(difference, high - low, np.log(high) - np.log(low)) / (2 * t)
        return value, se

    (d1, se1), (d2, se2) = estimate("1"), estimate("2")
    with np.errstate(divide="ignore", invalid="ignore"):  # both intervals of zero width: equal ratios agree
        q_stat = np.where(d1 == d2, 0.0, (d1 - d2) ** 2 / (se1 ** 2 + se2 ** 2))
    p = stats.chi2.sf(q_stat, 1)
    opposite = (both["verdict_1"] == Verdict.DIFFERENT) & (both["verdict_2"] == Verdict.DIFFERENT) & (
        np.sign(d1) != np.sign(d2))
    both = both.assign(cochran_q=q_stat, p=p, q=verdicts.adjusted(p), opposite=opposite)
    return both[[*keys, "ratio_1", "verdict_1", "ratio_2", "verdict_2", "cochran_q", "p", "q", "opposite"]]


def block_agreement(pub: Published) -> str:
    """Whether the two reference runs agree, comparison by comparison (a heterogeneity test with multiplicity)."""
    if not (pub.has("reference-1") and pub.has("reference-2")):
        return "Two reference runs are not published yet.\n"
    table = agreement(pub.findings("reference-1"), pub.findings("reference-2"))
    if table.empty:
        return "The reference runs share no comparison with an interval.\n"
    worst = table.sort_values("p").head(5)
    lines = [f"- {r['what']} · {r['metric']}: run 1 {r['ratio_1']:.3f} ({r['verdict_1']}), run 2 {r['ratio_2']:.3f} "
             f"({r['verdict_2']}), Cochran's Q = {r['cochran_q']:.2f}, p = {r['p']:.3f}, q = {r['q']:.3f}"
             for r in worst.to_dict("records")]
    return (f"{len(table)} comparisons with an interval in both reference runs; Cochran's Q tests each for "
            f"heterogeneity between the runs, Benjamini–Hochberg over all {len(table)}: "
            f"{int((table['q'] <= 0.05).sum())} disagree (q ≤ 0.05), and {int(table['opposite'].sum())} are "
            "*different* in opposite directions. The five smallest p-values:\n\n" + "\n".join(lines) + "\n")


def block_table1(pub: Published) -> str:
    """The seed's Table 1 question at each level, shape by shape, natsmq ÷ rocksmq: the seed's ratio (its direction),
    the broker level (Python client stacks), Milvus's own produce call inside the server, and the op through Milvus
    end to end — each with its verdict, in each reference run."""
    from mqbench.data.seed import seed_table

    roles_ = [r for r in ("reference-1", "reference-2") if pub.has(r)]
    if not roles_:
        return "No reference run is published yet.\n"
    seed = seed_table("pubsub")
    seed = seed[seed["metric"] == "s_per_op"].pivot_table(index="test", columns="mq", values="value")
    seed_ratio = {test.split("*")[0]: row["natsmq"] / row["rocksmq"] for test, row in seed.iterrows()}

    def cell(table: pd.DataFrame, phase: str, metric: str, size: str) -> str:
        rows = table[(table["phase"] == phase) & (table["metric"] == metric)
                     & table["shape"].astype(str).str.startswith(size + "*")]
        if rows.empty:
            return "—"
        r = rows.iloc[0]
        return f"{r['ratio']:.2f} {r['verdict']}" if np.isfinite(r["ratio"]) else f"— {r['verdict']}"

    header = ["message size", "seed"]
    for role in roles_:
        header += [f"{SHORT[role]}: broker (client stacks)", f"{SHORT[role]}: produce inside Milvus",
                   f"{SHORT[role]}: through Milvus"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for size, ratio in seed_ratio.items():
        cells = [size, f"{ratio:.2f}"]
        for role in roles_:
            f = pub.findings(role)
            cells += [cell(f, schema.Phase.BROKER, "s_per_op", size), cell(f, schema.Phase.MILVUS, "milvus_produce_ms", size),
                      cell(f, schema.Phase.MILVUS, "s_per_op", size)]
        lines.append("| " + " | ".join(cells) + " |")
    return ("natsmq ÷ rocksmq per message size (below 1: NATS faster); the seed's ratio is its s/op; each of ours has "
            "its verdict over its units (5 per shape: ops at the broker level, at the seed's counts; pairs of server "
            "starts through Milvus, at a tenth to a fiftieth of them, in runs that record them — ops on one server "
            "pair before). *produce inside Milvus* is Milvus's own produce call per message "
            "(`milvus_msgstream_request_latency`): whole milliseconds, truncated, so its mean gets no ratio verdict "
            "(the ratio shown is the means', for reference); the share of calls above 1 ms is compared instead, in "
            "the Findings:\n\n" + "\n".join(lines) + "\n")


def block_columns(pub: Published) -> str:
    """The declared summary columns, from the registry in ``mqbench.core.schema`` and the studies' own
    (``mqbench.core.studies``): not about a run, about the code."""
    studies.declared()
    rows = [f"| `{c.name}` | {c.kind} | {c.unit or '—'} | {c.better or '—'} | {c.meaning} |"
            for c in schema.COLUMNS.values()]
    return ("| column | kind | unit | better | meaning |\n|---|---|---|---|---|\n" + "\n".join(rows)
            + "\n\nA notebook's declared parameters are columns too, under their own names.\n")


def block_decisions(pub: Published) -> str:
    """The suite's answer, question by question, from the published runs (the run index's first table)."""
    from mqbench.report.run_index import decisions

    table = decisions({role: pub.reports / name for role, name in pub.roles.items() if pub.has(role)}, pub.findings,
                      link=lambda run, role: f"[{role}](reports/{run.name}/report.html)")
    if table.empty:
        return "No run is published yet.\n"
    table = table.assign(compared=table["compared"].str.replace(r", \S+ ÷ \S+$", "", regex=True)).rename(
        columns={"ratio [95%]": "natsmq ÷ rocksmq [95%]"})
    return ("Each question from the published run that measures it best; the ratio *natsmq ÷ rocksmq* (below 1: "
            "NATS lower) with its 95% interval, the verdict at δ = 5% and the smallest effect the interval rules "
            "out (`mqbench.report.run_index.decisions`):\n\n" + _markdown(table) + "\n")


def _markdown(table: pd.DataFrame) -> str:
    """A pipe table without padding (the README's length is a budget)."""
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


GENERATORS = {"decisions": block_decisions, "findings": block_findings, "runs": block_runs, "tick": block_tick, "scale": block_scale,
              "ingest": block_ingest,
              "columns": block_columns, "agreement": block_agreement, "table1": block_table1}


def render(text: str, pub: Published) -> str:
    """``text`` with every generated block rewritten."""
    def fill(match: re.Match) -> str:
        name = match.group(2)
        if name not in GENERATORS:
            raise KeyError(f"unknown generated block {name!r}; known: {', '.join(GENERATORS)}")
        return match.group(1) + GENERATORS[name](pub) + match.group(4)

    return BLOCK.sub(fill, text)


def stale(pub: Published | None = None, docs: list[Path] = DOCS) -> list[Path]:
    """The docs whose generated blocks differ from what the published runs say now."""
    pub = pub or Published()
    return [doc for doc in docs if doc.exists() and render(doc.read_text(), pub) != doc.read_text()]


def write(pub: Published | None = None, docs: list[Path] = DOCS) -> list[Path]:
    """Rewrite the generated blocks of ``docs``; returns the files changed."""
    pub = pub or Published()
    changed = []
    for doc in (d for d in docs if d.exists()):
        text = render(doc.read_text(), pub)
        if text != doc.read_text():
            results.atomic_write_text(doc, text)
            changed.append(doc)
    return changed
