"""The sections of ``report.html``: each a title, what it shows and which code made it, and a builder that
turns a run's recorded results into figures and tables (nothing when the run has none of that kind).
``notebooks/report.ipynb`` displays them in order; the head comes first (title, Findings, parameters)."""
from __future__ import annotations

import functools
import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mqbench.core import page, results, schema, studies
from mqbench.core.page import Section, reader_text
from mqbench.core.schema import Notebook, Status, Unit, Verdict
from mqbench.report import plots, tables
from mqbench.stats import answers, design, scaling
from mqbench.stats.findings import components, findings, interaction

VERDICT_CLASS = {v: f"verdict-{v}" for v in (Verdict.DIFFERENT, Verdict.EQUIVALENT, Verdict.INCONCLUSIVE)}


@dataclass
class Run:
    """One run folder's recorded results, as the sections read them (``summary``: the rows of a notebook
    still running, instead of the folder's ``summary.parquet``)."""

    run_dir: Path
    summary: pd.DataFrame | None = None
    manifest: dict = field(init=False)
    failures: list = field(init=False)

    def __post_init__(self):
        self.run_dir = Path(self.run_dir)
        self.summary = results.load_summary(self.run_dir) if self.summary is None else results.with_base(self.summary)
        self.manifest = results.read_manifest(self.run_dir)
        self.failures = results.read_failures(self.run_dir)

    def rows(self, **where) -> pd.DataFrame:
        """Summary rows whose columns hold the given values, failed ones too (:func:`mqbench.core.results.rows`)."""
        return results.rows(self.summary, ok=False, **where)

    @functools.cached_property
    def findings(self) -> pd.DataFrame:
        """The run's Findings (:func:`mqbench.stats.findings.findings`), made once for the answer box and the table."""
        return findings(self.summary)


def _table_of(make, caption: str):
    """A builder showing one table, ``make(run)``, when it has rows."""
    def build(run: Run):
        frame = make(run)
        return [page.table(frame, caption)] if len(frame) else None
    return build


# -- the head ------------------------------------------------------------------------------------------------
def header(run: Run) -> str:
    m, host = run.manifest, run.manifest.get("host", {})
    versions = ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items() if v)
    lock = m.get("lock_sha256") or ""
    return (f"<h1>mqbench report · {html.escape(m['run_id'])}</h1>"
            f'<p class="meta">git {html.escape(str(m.get("git_sha")))} · created {html.escape(m.get("created_utc", ""))}'
            f" · host {html.escape(str(host.get('cpu_model', '?')))}, {host.get('logical_cores', '?')} logical cores, "
            f"{host.get('ram_gb', '?')} GB RAM — client and server share this machine · {html.escape(versions)}"
            + (f" · lock {lock[:12]}" if lock else "") + "</p>"
            '<p class="meta"><a href="../index.html">all runs</a> · <a href="manifest.json">manifest.json</a> · '
            '<a href="summary.parquet">summary.parquet</a> · how to read it: <a href="../../docs/measurement.md">'
            'docs/measurement.md</a> (in the mqbench folder this run lives in)</p>')


def answers_section(run: Run) -> str:
    """The answer box: one line per question, from the Findings, with a link to the section behind it."""
    table = run.findings
    delta = _delta(run)
    if run.summary.empty:
        return ""
    single = run.summary["variant"].dropna().nunique() < 2
    note = (" This run measured one variant: its comparisons are with another run — `mqbench compare` (single-MQ "
            "runs pair by everything but the variant), or the run index." if single else "") + deployment_note(run.summary)
    targets = {"findings": "findings", "time-tick": page.anchor(TICK.title), "load-phases": page.anchor(LOADS.title),
               "write-path": page.anchor(WRITE.title if len(tables.write_path(run.summary)) else LOADS.title),
               "recovery": page.anchor(RECOVERY.title) if len(results.rows(run.summary, op=schema.Op.RECOVERY))
               else "findings",
               "table-1": page.anchor(TABLE1.title)}
    shown = answers.box(table, delta, lambda q, sec: f'<a href="#{targets.get(sec, sec)}">{html.escape(q)}</a>')
    return page.section("The answer", f"Does the MQ matter for a Milvus user on this host? One line per question: "
                        f"its primary comparison, named before the run — the ratio *contender ÷ baseline*, its 95% "
                        f"interval, the verdict "
                        f"at δ = {delta:.0%} and its unit — with how many more stand behind it in the Findings "
                        f"below.{note}",
                        page.table(shown, "The answer, question by question", wrap=True,
                                   row_class=verdict_class))


def deployment_note(summary: pd.DataFrame) -> str:
    """What a verdict between deployments by URI is about: the deployments, not their MQs alone (and, without restart
    commands, the deployments at one time)."""
    deployed = summary[summary["server"].eq(design.DEPLOYMENT)] if "server" in summary else summary.iloc[:0]
    if deployed.empty:
        return ""
    labels = ", ".join(sorted(deployed["variant"].dropna().unique()))
    once = "unit" in deployed and deployed["unit"].eq(Unit.BLOCK).any()
    return (f" Deployments by URI ({labels}): each serves its own build on its own configuration, so a verdict compares "
            "the deployments — their MQs together with all else that differs between them — not their MQs alone"
            + (". They were not restarted (no restart command): every block is on one start of each, so a run-time "
               "verdict compares the two deployments at one time." if once else
               "; each start pair restarted both with their restart commands."))


def verdict_class(row: dict) -> str:
    """A row's colour: green when equivalent, yellow when inconclusive; a *different* row blue when the contender
    is better, red when it is worse (in the metric's own direction)."""
    verdict = row.get("verdict")
    if verdict != Verdict.DIFFERENT:
        return VERDICT_CLASS.get(verdict, "")
    words = str(row.get("in words") or row.get("reading") or "")
    return "verdict-better" if "better" in words else "verdict-different"


def _delta(run: Run) -> float:
    s = run.summary
    return float(s["delta"].dropna().iloc[0]) if "delta" in s and s["delta"].notna().any() else 0.05


def findings_section(run: Run) -> str:
    table = run.findings
    counts = table["verdict"].value_counts().to_dict() if len(table) else {}
    same_mq = len(table) and (table["baseline"].str.split("-").str[0] == table["contender"].str.split("-").str[0]).all()
    text = ("Each line compares one metric between a variant and the baseline (`variant ÷ baseline`) over independent "
            "units (`unit`) — pairs of server starts of one build served under every variant, pub/sub ops on brokers "
            "side by side, or builds, paired by key. **equivalent**: the 95% interval lies within ±δ, "
            f"δ = {_delta(run):.0%}, and its equivalence test (TOST) survives a Benjamini–Hochberg correction over its "
            "family's equivalence tests (`p_equivalent_adjusted` ≤ the family's α: 0.04 among the questions' primary "
            "comparisons, the `primary` column, 0.01 among the rest); **different**: the interval excludes 1 and "
            "survives the correction over its family's difference tests (`p_adjusted` ≤ that α); **inconclusive**: "
            "neither — the reading says why and about how many units would decide it; **insufficient data**: fewer "
            "than 5 units, a value whose resolution is coarse against a ±δ effect (whole-ms counters, a 0.5 s poll), "
            "censored lag means, no failure at all (a bound, not an equivalence), or values identical by construction. "
            f"This run: {', '.join(f'{v} {k}' for k, v in counts.items()) or 'no comparisons'}."
            + (" Both sides run the same MQ (an A/A comparison): any 'different' here would be a false alarm."
               if same_mq else "") + " How this was made: `mqbench.stats.findings.findings` and `mqbench.stats.verdicts`.")
    shown = table.assign(interval=[f"{lo:.3f}–{hi:.3f}" if pd.notna(lo) else "" for lo, hi in
                                   zip(table.get("ci_low", []), table.get("ci_high", []))])
    columns = ["reading", "verdict", "what", "metric", "ratio", "difference", "interval", "units", "unit",
               "units_needed", "primary", "p_adjusted", "p_equivalent_adjusted", "baseline_median", "contender_median",
               "notebook"]
    if len(shown):  # the registry's words for a metric, not its column name
        shown = shown.assign(metric=shown["metric"].map(schema.label))
    decided = shown["verdict"] != Verdict.INSUFFICIENT if len(shown) else pd.Series(dtype=bool)
    few = shown[~decided][[c for c in ["what", "metric", "contender", "ratio", "units", "reason", "notebook"]
                           if c in shown]]
    shown = shown[[c for c in columns if c in shown]]
    text, made_by = reader_text(text)
    return page.section("Findings", text, made_by, page.table(shown[decided], "Findings: different first, by effect size",
                                                      row_class=verdict_class, wrap=True),
                        "<details><summary>Compared without a verdict: " + f"{len(few)} comparisons with too few "
                        "independent units (open)</summary>" + page.table(few, "Compared without a verdict: too few "
                        "independent units (the ratio is one observation's, or the metric's unit is the server start)")
                        + "</details>")


def parameters_section(run: Run) -> str:
    m = run.manifest
    if m.get("mode") != "grid":
        how = {"single": "one notebook (`mqbench run NOTEBOOK`)", "interactive": "interactively, from JupyterLab"}
        return page.section("Run parameters", f"Run {how.get(m.get('mode'), m.get('mode', '—'))}.",
                            page.key_values(m.get("parameters") or {}, f"Parameters of {m.get('notebook', '')}"))
    cells = pd.DataFrame([{"notebook": Path(c["notebook"]).stem, **{k: str(v) for k, v in c["params"].items()}}
                          for c in m.get("cells", [])])
    entries = [page.key_values({**(e.get("parameters") or {}), **{f"axis {k}": v for k, v in (e.get("grid") or {}).items()}},
                               f"Parameters of {Path(e['notebook']).stem}") for e in (m.get("grid") or {}).get("notebooks", [])]
    return page.section("Run parameters", f"Grid `{m.get('grid_file', '')}`, cells in execution order "
                        f"({m.get('order', 'as listed')}, order seed {m.get('order_seed', '—')}).",
                        page.table(cells, "Cells, in the order they ran"), *entries)


def failures_section(run: Run) -> str:
    failed = run.rows(status=Status.FAILED)
    parts = []
    if run.failures:
        parts.append(page.table(pd.DataFrame(run.failures)[["notebook", "params", "error", "executed"]], "Failed cells"))
    if len(failed):
        columns = [c for c in ["notebook", "variant", "op", "phase", "error", "server_log_tail"] if c in failed]
        parts.append(page.table(failed[columns], "Failed phases"))
    return page.section("Failures", "These cells or phases failed; everything measured before them is kept. A server "
                        "that died leads the error, with its log tail.", *parts) if parts else ""


# -- search and query ----------------------------------------------------------------------------------------
def _table2(run: Run):
    t2 = tables.table2(run.summary)
    if t2.empty:
        return None
    directions = tables.table2_directions(t2)
    return [page.paragraph(tables.table2_context(run.summary, run.manifest)),
            *([page.table(directions, "Which MQ is faster: ours beside the seed's")] if len(directions) else []),
            page.table(t2, "Table 2 (rows_behind: the rows each figure pools)")]


def _concurrency(run: Run):
    sw = tables.sweep(run.summary)
    if sw.empty:
        return None
    figures = [page.figure(plots.vs_concurrency(run.summary, column),
                           f"{column} against client processes, a line per variant (band: min–max over sweep blocks)",
                           f"Line chart of {column} versus concurrency for each variant")
               for column in ("rps", "latency_p99_ms")]
    busy = int(sw["client_bound"].sum()) if "client_bound" in sw else 0
    warn = page.paragraph(f"**Client-bound:** at {busy} level(s) the client processes used over "
                          f"{scaling.CLIENT_BOUND:.0%} of the host's CPU, so those RPS figures describe the client as "
                          "much as Milvus.") if busy else ""
    return [*figures, page.table(sw, "Concurrency sweep"), warn]


def _open_loop(run: Run):
    lvr = tables.latency_vs_rps(run.summary)
    if lvr.empty:
        return None
    return [page.figure(plots.latency_vs_rps(lvr), "Search latency (p99 where supported) against achieved RPS; closed "
                                                   "and open loop",
                        "Line chart of p99 latency versus achieved requests per second for each variant"),
            page.table(tables.knee(run.summary), "Knee per variant"),
            page.table(lvr[lvr["mode"] == "open loop"], "Open-loop rates")]


def _with_figure(make, draw, caption: str, alt: str, table_caption: str):
    """A builder showing a figure drawn from a table and the table itself."""
    def build(run: Run):
        frame = make(run)
        return [page.figure(draw(frame), caption, alt), page.table(frame, table_caption)] if len(frame) else None
    return build


TABLE2 = Section(
    "The seed's Table 2, ours beside theirs",
    "The seed's Table 2 beside ours. Ours: from the blocks of `search_query.ipynb`'s start pairs on one served build "
    "(latency: mean of the per-block mean of serial requests; RPS: median over blocks with the blocks' client "
    "processes) and from "
    "`scale_curve.ipynb` at each N. The seed's *RPS* (2.95/3.07, 1.47/1.54) cannot be requests per second at a 20 ms "
    "mean latency, so it is shown as printed under its own label. Compare ratios and verdicts (Findings), not "
    "absolute values. Made by `mqbench.report.tables.table2`.", _table2)
LOADS = Section(
    "Load phases", "Median per variant and configuration (`mqbench.report.tables.load_phases`, pipeline "
    "`mqbench.data.pipeline.load`). Insert is acknowledged once the rows are on the MQ, rows/s counted from the moment every "
    "loader process was connected; flush waits until they are persisted as segments; `mq_storage_bytes` is what the "
    "MQ's store holds on disk (RocksMQ counts its `_meta_kv` store too); `mq_bytes_carried` is the row data the load "
    "sent through the MQ.", _table_of(lambda run: tables.load_phases(run.summary), "Load phases"))
CONCURRENCY = Section(
    "Latency and throughput vs concurrency", "One OS process per client, released together, fixed window "
    "(`mqbench.measure.workload.ClientPool.closed_loop`; table `mqbench.report.tables.sweep`). `client_cpu_share` is the clients' "
    "CPU ÷ (the span it was measured over × logical cores).", _concurrency)
OPEN_LOOP = Section(
    "Latency vs throughput: closed and open loop", "Closed loop: a point per concurrency level. Open loop: requests "
    "sent on a schedule from one queue shared by the clients; latency counts from each request's *scheduled* time, and "
    "a request no client could send by the drain deadline is counted with its waiting time so far "
    "(`mqbench.measure.workload.ClientPool.open_loop`). The knee is the highest target rate where at least 95% of the requests "
    "actually scheduled in the window completed and none was left unsent (`mqbench.report.tables.knee`).", _open_loop)
RECALL = Section(
    "Recall vs QPS", "Each value of the index's search knob: recall@k (ties judged on distances recomputed from the "
    "base vectors) from a serial pass, against closed-loop RPS (`mqbench.report.tables.recall_qps`).",
    _with_figure(lambda run: tables.recall_qps(run.summary), plots.recall_vs_qps,
                 "Closed-loop RPS against recall@k, a point per knob value",
                 "Scatter of requests per second versus recall for each search parameter value",
                 "Recall and RPS per search-parameter value"))
OPERATING_POINT = Section(
    "The operating point", "Before the build is served, serial search at each search setting on it (cheapest first) "
    "until recall@k reaches the run's `target_recall`; every block then runs at that setting, as VectorDBBench and "
    "big-ann-benchmarks report at a recall (`mqbench.studies.search_query.operating_point`, table "
    "`mqbench.report.tables.operating_point`). Recall is the build's: every start serves the same one.",
    _with_figure(lambda run: tables.operating_point(run.summary), plots.recall_vs_latency,
                 "Serial mean latency against recall@k on the build, a point per search setting",
                 "Line chart of latency versus recall for each search setting, the operating point ringed",
                 "The recall–latency curve and the operating point"))
SERVED = Section(
    "Every start of the served build", "Per start and variant (`mqbench.report.tables.served_starts`): its launch "
    "order and seconds to serve, the rows a Strong `count(*)` saw, the segments loaded and their sizes, and the "
    "server's own CPU over an idle window (background compaction, indexing or time ticks would show here before "
    "they are charged to the requests).", _table_of(lambda run: tables.served_starts(run.summary),
                                                     "Starts of the served build"))
CONSISTENCY = Section(
    "Consistency levels", "Serial search and primary-key query at each consistency level on static data "
    "(`mqbench.report.tables.consistency`). A Strong read waits until the query node has consumed the MQ's time ticks past the "
    "request's timestamp; how many ticks depends on the server start, so one start per variant cannot tell the MQs "
    "apart — the time-tick study does, over many starts. A percentile is empty where the sample is too small (p99 "
    "needs 1,000 requests).",
    _with_figure(lambda run: tables.consistency(run.summary), plots.consistency_latency,
                 "Serial mean latency per consistency level and variant",
                 "Bar chart of mean latency per consistency level, log scale", "Latency per consistency level"))
SHAPES = Section(
    "Request shapes and query kinds", "Serial p50/p99 latency and closed-loop RPS per request shape (nq, top-k, output "
    "fields, a range filter on `attr`) and query kind (pk lookup, filter query with a limit, `count(*)`), medians over "
    "sweep blocks (`mqbench.report.tables.shapes`).", _table_of(lambda run: tables.shapes(run.summary), "Shapes and query kinds"))


# -- time tick, freshness, recovery --------------------------------------------------------------------------
def _tick(run: Run):
    rows = tables.tick(run.summary)
    if rows.empty:
        return None
    samples = tables.tick_samples(run.run_dir, run.summary)
    return [page.paragraph(tables.tick_text(rows, samples, run.summary)),
            page.figure(plots.tick_ecdf(samples), "Latency ECDF per variant, one thin line per server start",
                        "Empirical cumulative distribution of Strong read and insert-to-visible latencies, a line per start"),
            page.figure(plots.tick_strip(rows), "Per-start mean per variant: the spread between starts",
                        "Strip plot of each server start's mean latency, per variant and kind"),
            page.table(rows, "Per start: mean, fastest and slowest sample")]


def _freshness(run: Run):
    fresh = tables.freshness(run.summary)
    if fresh.empty:
        return None
    raw = tables.raw_of(run.run_dir, run.rows(op=schema.Op.INSERT_VISIBLE, phase=schema.Phase.FRESHNESS))
    figure = [page.figure(plots.freshness_lags(raw), "Insert→visible lag per consistency level and batch size",
                          "Box plots of insert-to-visible lag per consistency level, a box per variant")] if len(raw) else []
    return [*figure, page.table(fresh, "Insert→visible lag")]


def _growth(run: Run):
    growth = tables.raw_of(run.run_dir, run.rows(op=schema.Op.INGEST_GROWTH))
    return [page.figure(plots.storage_growth(growth), "MQ store on disk against rows inserted",
                        "Line chart of MQ bytes on disk versus rows inserted, a line per variant")] if len(growth) else None


TICK = Section(
    "The time tick over many server starts", "Strong reads and insert→visible lag wait for Milvus's time tick, and how "
    "long depends on a phase fixed when the server starts — so the unit here is the start. In the main job every pair "
    "of starts of the served build takes these samples, interleaved server by server at random phases of the tick "
    "(`mqbench.measure.lags.tick_samples`); `freshness_recovery.ipynb`'s study does the same on throwaway servers. The "
    "verdicts over start pairs are in the Findings; Milvus's own account of the wait (tSafe, the tick lags) is in the "
    "next section. What sets the wait: `docs/time-tick.md`.", _tick)
FRESHNESS = Section(
    "Insert → visible", "The lag from an acknowledged insert to the first query (at the given consistency level) that "
    "sees its last row, per batch size, on one server start per variant (`mqbench.report.tables.freshness`, code "
    "`mqbench.measure.lags.visibility_lags`). One start per variant: read the time-tick study for what differs between "
    "MQs rather than between starts.", _freshness)
MIXED = Section(
    "Search while inserting", "The same search load with and without a background writer process; the writer's rate "
    "is the rate it achieved over the search window, never its target (`mqbench.report.tables.mixed`).",
    _table_of(lambda run: tables.mixed(run.summary), "Search while inserting"))
GROWTH = Section("Sustained ingest: MQ bytes on disk", "Bytes in the MQ's store after every insert batch "
                 "(`mqbench.measure.lags.ingest_growth`); retention settings are server overrides.", _growth)
RECOVERY = Section(
    "Recovery after SIGKILL", "Acknowledged but unflushed rows, the server SIGKILLed and restarted on the same folder "
    "with the same MQ: seconds until it serves a Strong `count(*)` again and until every row is counted; then every "
    "acknowledged id is looked up, so a duplicate cannot hide a loss (`mqbench.measure.lags.kill_and_recover`).",
    _table_of(lambda run: tables.recovery(run.summary), "Recovery"))


# -- pub/sub, migration, scale ----------------------------------------------------------------------------------
LEVELS = {schema.Phase.BROKER: "broker — Python client stacks, not Milvus", schema.Phase.MILVUS: "through Milvus"}


def _table1(run: Run):
    t1 = tables.table1(run.summary)
    if t1.empty:
        return None
    ops = tables.pubsub_ops(run.summary)
    ops = ops.assign(level=ops["level"].map(lambda v: LEVELS.get(v, v))) if "level" in ops else ops
    return [page.figure(plots.pubsub_seconds(ops), "Seconds per op per shape and broker, per level",
                        "Point chart of seconds per pub/sub op for each shape, a point per broker, log scale"),
            page.table(t1.assign(level=t1["level"].map(lambda v: LEVELS.get(v, v))), "Table 1")]


def _scale(run: Run):
    points = scaling.points(run.summary)
    if points.empty:
        return None
    scale_rows = run.rows(notebook=Notebook.SCALE_CURVE)
    target = float(scale_rows["extrapolate_to"].dropna().iloc[0]) if "extrapolate_to" in scale_rows and \
        scale_rows["extrapolate_to"].notna().any() else 1e8
    allow = "extrapolate_beyond_measured" in scale_rows and bool(scale_rows["extrapolate_beyond_measured"].fillna(False).any())
    fitted = scaling.fits(run.summary, target, allow)
    curves = plots.scale_curves(points, fitted)
    return [*([page.figure(curves, "Each cost against N (log-log), measured and modelled",
                           "Log-log line charts of load, index, storage, memory, latency and RPS against N per variant")]
              if curves is not None else [page.paragraph("*One size per MQ: no curve to draw; the measured values are "
                                                         "in the table below.*")]),
            page.figure(plots.insert_curve(tables.insert_curves(run.run_dir, scale_rows)),
                        "Insert rate over each load: rows acknowledged against time",
                        "Line chart of rows acknowledged versus seconds for each load, a line per variant and N"),
            page.table(scaling.beside_seed(fitted), "Cost models and extrapolation")]


TABLE1 = Section(
    "The seed's Table 1 (pub/sub), ours beside theirs", "Three levels, named for what they compare: *broker* rows "
    "are Python client stacks (nats-py publishing to JetStream against an in-process RocksDB model of RocksMQ), not "
    "Milvus; *milvus* rows are insert requests through Milvus until Strong-visible, with Milvus's own produce "
    "calls inside the server in *Milvus's own account* (what each series times: `docs/pubsub.md`). "
    "Seconds per op, peak memory of the broker process, CPU and "
    "store growth per op, per shape (message size × messages per op), over every op of every block "
    "(`mqbench.report.tables.table1`, notebook `pubsub.ipynb`, code `mqbench.measure.mq_ops`). The seed ran 50 ops per shape on an "
    "Apple M1 Pro with 16 GB, its op waiting for each ack: its figures stand beside our `strict` broker rows only, CPU "
    "and storage per op (its totals ÷ 50), its units as printed. `memory_gib` is the broker process's peak RSS (for "
    "the NATS inside Milvus, the whole Milvus; for the RocksDB model, this process, client included). `bound_by` says "
    "whose CPU limited the ops. The RocksDB rows model RocksMQ's storage path on the same engine; they are not Milvus's "
    "Go code. The `milvus` level is the same shapes as insert requests, until visible. Verdicts per shape are in the "
    "Findings.", _table1)
TABLE1_INSIDE = Section(
    "Table 1 inside Milvus: each MQ's produce and delivery, timed by Milvus", "For every op through Milvus, what "
    "Milvus's own MQ client did, from its Prometheus series: produce calls per op (one per message per channel, time "
    "ticks included), their mean — whole milliseconds, truncated, so a mean under 1 ms is a lower bound — and the "
    "bucket bounds (1, 2, 4 … ms) under which half and 99% of them fell, where the sample supports the percentile; "
    "the time-tick lag at the query and data nodes when the op ended. Beside them the op end to end per message, and "
    "the seed's time per message at the same message size (its op: Milvus's Go client in process, a consumer "
    "included). Verdicts per shape, over ops, are in the Findings (`milvus_produce_ms`); what each series times: "
    "`docs/pubsub.md` (`mqbench.report.tables.table1_inside`).",
    _table_of(lambda run: tables.table1_inside(run.summary), "Table 1 inside Milvus, per shape and MQ"))
MIGRATION = Section(
    "Migration between MQs", "The seed's procedure automated (`mqbench.measure.remount.migrate_and_verify`, notebook "
    "`migration.ipynb`): each check ✓ or ✗ with its numbers, for the procedure as written (flush first) and with the "
    "flush skipped — which shows what the flush is for.",
    _table_of(lambda run: tables.migration(run.run_dir, run.summary), "Migration checks"))
WRITE = Section(
    "The write path", "One row per build: a fresh embedded server per build, the rows' insert requests serialized "
    "before the clock and sent by threads of one client process (`mqbench.data.prepared`), so the insert times the "
    "server; then flush (its state polled every 20 ms), index, load, and a window at rest (idle RSS and CPU). "
    "`client_limited` marks a build whose client used at least half as much CPU as the server over the insert: on "
    "shared cores it may have set the pace. MQ disk per byte is the store right after the flush ÷ the row data "
    "carried, before any retention runs. The verdicts, over builds, are in the decision table and the Findings "
    "(`mqbench.report.tables.write_path`).",
    _table_of(lambda run: tables.write_path(run.summary), "The write path, build by build"))
SCALE = Section(
    "Scale: costs against N", "Each cost measured at every N (`scale_curve.ipynb`, a fresh server per N; the seed's "
    "Table 2 at N is in the Table 2 section), fitted as `y = c + a·N` or, from four sizes, `y = c + a·N^b`, whichever "
    "predicts the largest measured N best from the smaller ones (`holdout_error`: that prediction's relative error; "
    "`mqbench.stats.scaling`). A value at the target N is an extrapolation, refused more than 10× past the largest measured "
    "N unless the run asked for it, and never made for RPS the client limited.", _scale)

NOISE = Section(
    "Where the noise lives", "For each run-time comparison over start pairs, the per-block log ratio split by a "
    "mixed model (a random intercept per start, statsmodels `MixedLM`) into the spread *between starts* and *within a "
    "start*, the spread of a start's mean, and how many start pairs give an 80% chance of *equivalent* at ±5% when "
    "the true ratio is 1 (t-based; `mqbench.stats.findings.components`). Empty where a start had one block (the two "
    "cannot be told apart).",
    _table_of(lambda run: components(run.summary), "Variance components of the log ratios"))
BUILDS = Section(
    "The MQ × build interaction", "Each MQ's own build is served under every MQ, the build alternating between start "
    "pairs: per comparison, the MQ's ratio on one build ÷ its ratio on the other, with a Welch 95% interval over the "
    "start pairs of each build (`mqbench.stats.findings.interaction`). An interval that excludes 1 says the MQ's effect "
    "depends on the build it serves; builds differ (two builds of the same rows give different graphs).",
    _table_of(lambda run: interaction(run.summary), "MQ effect on one build ÷ on the other"))
MILVUS = Section(
    "Milvus's own account", "Milvus's Prometheus series scraped before and after every phase, per MQ, beside the "
    "client's numbers (`mqbench.report.tables.milvus_view`, scraper `mqbench.measure.milvus_series`): the proxy's whole request, "
    "the query node's wait for tSafe (the time tick), queue and segment search; the time-tick lag at the query node "
    "and at rootcoord at the end of each phase; and every produce call of Milvus's MQ client with its count. Milvus "
    "records these in whole milliseconds, truncated: a mean is a lower bound and calls under 1 ms count 0.",
    _table_of(lambda run: tables.milvus_view(run.summary), "Milvus's series per kind and variant (means over rows)"))
HEAD = [header, answers_section, findings_section, parameters_section, failures_section]
SEARCH = [TABLE2, NOISE, BUILDS, OPERATING_POINT, SERVED, LOADS, CONCURRENCY, OPEN_LOOP, RECALL, CONSISTENCY, SHAPES]
TICK_AND_FRESHNESS = [TICK, MILVUS, FRESHNESS, MIXED, GROWTH, RECOVERY]
PUBSUB_MIGRATION_SCALE = [WRITE, TABLE1, TABLE1_INSIDE, MIGRATION, SCALE]


def of_studies() -> list[Section]:
    """The sections the studies declare (:mod:`mqbench.core.studies`), study by study, after the ones above."""
    return [section for study in studies.declared().values() for section in study.sections]
