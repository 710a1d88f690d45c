"""The contract between notebooks, the summary and everything that reads it: the names of ops, phases, sweeps,
notebooks and verdicts (``StrEnum``s: a member *is* its string, so rows stay plain text in parquet), and the one
registry of summary columns — unit, label, which direction is better, and kind.

Notebooks write rows with these names (:class:`mqbench.run.session.Session` refuses a column that is neither
registered here nor a declared parameter of the notebook); the report, findings, compare, scaling, plots and
export select rows with :func:`mqbench.core.results.rows` by these members. Requested parameters are columns
under their own names (exactly as given); what a run measured or derived from them has its own columns
(``data_n``, ``data_dim``, … for the dataset actually used), so the two never overwrite each other.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum


class Op(StrEnum):
    """What a row measured."""
    SERVER_START = "server_start"
    SERVER_STOP = "server_stop"
    CREATE = "create"
    INSERT = "insert"
    FLUSH = "flush"
    INDEX = "index"
    COMPACT = "compact"
    LOAD = "load"
    SEARCH = "search"
    QUERY = "query"
    FILTER_QUERY = "filter_query"
    COUNT = "count"
    PUBSUB = "pubsub"
    INSERT_VISIBLE = "insert_visible"
    STRONG_READ = "strong_read"
    INGEST_GROWTH = "ingest_growth"
    RECOVERY = "recovery"
    MIGRATION = "migration"
    COUNT_ROWS = "count_rows"  # the server's own count and segments
    COPY_BUILD = "copy_build"  # a served build's folder copied for a variant
    IDLE = "idle"  # the server's own CPU over a window with no requests
    UNTRACKED = "untracked"  # a step outside every timed phase (client processes connecting, …) where a server died


LOAD_OPS = (Op.SERVER_START, Op.INSERT, Op.FLUSH, Op.INDEX, Op.COMPACT, Op.LOAD)
READ_OPS = (Op.SEARCH, Op.QUERY, Op.FILTER_QUERY, Op.COUNT)


class Consistency(StrEnum):
    """Milvus's consistency levels, strongest first."""
    STRONG = "Strong"
    BOUNDED = "Bounded"
    SESSION = "Session"
    EVENTUALLY = "Eventually"


class Phase(StrEnum):
    """How a row measured it."""
    LIFECYCLE = "lifecycle"
    LOAD = "load"
    SERIAL = "serial"
    CONCURRENT = "concurrent"
    OPEN_LOOP = "open_loop"
    MIXED = "mixed"
    FRESHNESS = "freshness"
    TICK = "tick"
    BROKER = "broker"
    MILVUS = "milvus"
    INGEST = "ingest"
    RECOVERY = "recovery"
    MIGRATE = "migrate"
    VERIFY = "verify"


class Sweep(StrEnum):
    """Which sweep of ``search_query.ipynb`` a row belongs to."""
    BLOCKS = "blocks"  # the paired blocks behind the verdicts
    WARMUP = "warmup"  # the recorded, excluded warm-up block of each start
    TICK = "tick"  # the Strong-read and insert→visible samples of each start
    CONCURRENCY = "concurrency"
    OPEN_LOOP = "open_loop"
    SEARCH_PARAMS = "search_params"
    CONSISTENCY = "consistency"
    SHAPE = "shape"
    QUERY_KIND = "query_kind"


class Notebook(StrEnum):
    """The measuring notebooks (``notebooks/<name>.ipynb``); each has a study module of the same name."""
    SEARCH_QUERY = "search_query"
    SCALE_CURVE = "scale_curve"
    FRESHNESS_RECOVERY = "freshness_recovery"
    PUBSUB = "pubsub"
    MIGRATION = "migration"


class Verdict(StrEnum):
    """What a comparison concluded (:mod:`mqbench.stats.verdicts`)."""
    DIFFERENT = "different"
    EQUIVALENT = "equivalent"
    INCONCLUSIVE = "inconclusive"
    INSUFFICIENT = "insufficient data"


class Unit(StrEnum):
    """What one observation of a comparison is (``unit`` column of rows and of the Findings)."""
    START = "start"  # a row of a server start (search_query's served build)
    START_PAIR = "start pair"  # a run-time verdict's unit: the per-start means of a pair of starts
    BLOCK = "block"
    BUILD = "build"
    REQUEST = "request"


class LoadMethod(StrEnum):
    """How a load put its rows in (``load_method``)."""
    INSERT = "insert"  # streamed by loader processes, through the MQ
    PREPARED = "prepared"  # requests serialized before the clock, sent by threads, through the MQ
    BULK = "bulk"  # bulk import of column files, past the MQ


class Publish(StrEnum):
    """How a pub/sub op published."""
    STRICT = "strict"  # each publish acknowledged before the next
    ASYNC = "async"  # a window of publishes in flight
    INSERT = "insert"  # through Milvus: an insert


class Status(StrEnum):
    OK = "ok"
    FAILED = "failed"


@dataclass(frozen=True)
class Column:
    """One summary column. ``kind``: ``key`` (identifies a row or its group), ``parameter`` (a setting a row ran
    with, or the data it turned out to be) or ``measured``. ``better``: ``lower``/``higher`` for a metric a
    comparison reads, else empty. ``resolution``: the smallest step the value can take, in its unit (0: fine
    against any effect); a ratio verdict needs it small against the effect (:func:`resolution`). ``scale``:
    ``ratio`` (contender ÷ baseline) or ``difference`` (contender − baseline, for shares that can be zero)."""
    name: str
    unit: str
    meaning: str
    kind: str = "measured"
    better: str = ""
    label: str = ""
    resolution: float = 0.0
    scale: str = "ratio"
    judged: "Judged | None" = None  # where a verdict reads it and by which rules (:data:`JUDGED`)

    @property
    def title(self) -> str:
        """A short label for tables and axes (the meaning when none is given)."""
        return self.label or self.meaning


def _key(name, meaning):
    return Column(name, "", meaning, "key")


def _param(name, meaning, unit=""):
    return Column(name, unit, meaning, "parameter")


def _m(name, unit, meaning, better="", label="", resolution=0.0, scale="ratio"):
    return Column(name, unit, meaning, "measured", better, label, resolution, scale)


STAT_SUFFIXES = {"avg": "mean", "p50": "p50", "p95": "p95", "p99": "p99", "p999": "p99.9", "min": "min", "max": "max"}
_STAT_LABELS = {"lag_avg_ms": "insert→visible mean lag", "lag_p50_ms": "insert→visible lag p50"}


def _stats(prefix: str, what: str, comparable=("avg", "p50", "p95", "p99", "p999", "max")) -> list[Column]:
    """The statistics :func:`mqbench.stats.metrics.latency_stats` writes for one prefix, and their count."""
    out = [_m(f"{prefix}_{suffix}_ms", "ms", f"{what}, {word}", "lower" if suffix in comparable else "",
              _STAT_LABELS.get(f"{prefix}_{suffix}_ms", f"{word} {what}")) for suffix, word in STAT_SUFFIXES.items()]
    return [*out, _m(f"{prefix}_count", "", f"samples behind the {what} statistics")]


_MILVUS = [  # Milvus's own series (mqbench.measure.milvus_series): histogram means over a phase, gauges at its end
    ("milvus_proxy_sq_ms", "the proxy's search/query, mean over the phase (whole ms, truncated)", True),
    ("milvus_proxy_wait_result_ms", "the proxy waiting for the query node's result", True),
    ("milvus_tsafe_wait_ms", "the query node waiting for tSafe (the time tick)", True),
    ("milvus_qn_queue_ms", "the request in the query node's queue", True),
    ("milvus_qn_req_ms", "the query node's whole request on the shard leader", True),
    ("milvus_qn_segment_ms", "searching the segments", True),
    ("milvus_produce_ms", "one produce call (Send) of its MQ client, per message", True),
    ("milvus_mutation_send_ms", "the proxy sending an insert's messages to the DML channels", True),
    ("milvus_produce_p50_le_ms", "the bucket bound under which half the phase's produce calls fell", False),
    ("milvus_produce_p99_le_ms", "the bucket bound under which 99% of them fell (from 1,000 calls)", False),
    ("milvus_qn_consume_tt_lag_ms", "query node's consumed time tick behind now, end of phase", False),
    ("milvus_dn_consume_tt_lag_ms", "data node's consumed time tick behind now, end of phase", False),
    ("milvus_rootcoord_produce_tt_lag_ms", "rootcoord's produced time tick behind now, end of phase", False),
    ("milvus_proxy_tt_lag_ms", "the proxy's time-tick lag, end of phase", False),
]
_LABELS = {"milvus_tsafe_wait_ms": "tSafe wait inside Milvus (the time tick)",
           "milvus_qn_consume_tt_lag_ms": "time-tick lag at the query node",
           "milvus_produce_ms": "produce call inside Milvus (its MQ client, per message)"}


def _milvus() -> list[Column]:
    out = []
    for name, meaning, histogram in _MILVUS:
        whole_ms = 1.0 if histogram or name.endswith("_le_ms") else 0.0
        out.append(_m(name, "ms", f"Milvus: {meaning}", "lower", _LABELS.get(name, ""), resolution=whole_ms))
        if histogram and not name.endswith("_le_ms"):
            out.append(_m(name.removesuffix("_ms") + "_n", "", f"Milvus: the calls behind {name}"))
    out.append(_m("milvus_produce_slow_share", "", "Milvus: share of the phase's produce calls above the histogram's "
                  "first bucket (recorded above 1 ms, whole ms)", "lower", "share of produce calls above 1 ms",
                  scale="difference"))
    return out


COLUMNS: dict[str, Column] = {c.name: c for c in [
    _key("run_id", "UTC timestamp + short git sha of the run"),
    _key("notebook", "the notebook that measured the row (Notebook)"),
    _key("variant", "label of the compared server configuration (an MQ plus overrides, or a Milvus release)"),
    _key("variant_index", "0 for the baseline variant; ratios are variant ÷ baseline"),
    _key("mq", "the message queue of the variant"),
    _key("server", "the variant's kind: embedded, deployment (by URI, side by side), or external (the uri parameter)"),
    _key("milvus_version", "the embedded Milvus release that served the row (a variant's ``version``)"),
    _key("block", "index of the paired block (or server-start pair) the row belongs to"),
    _key("block_order", "position of the variant within its block"),
    _key("repeat", "grid repeat"),
    _key("op", "what was measured (Op)"),
    _key("phase", "how it was measured (Phase)"),
    _key("sweep", "which sweep of search_query.ipynb (Sweep)"),
    _key("point", "the sweep point (a search-parameter value, request shape or query kind)"),
    _key("knob", "the search parameter's value at a search-parameter sweep point"),
    _key("concurrency", "client processes used"),
    _key("status", "ok or failed (Status)"),
    _key("error", "what failed"),
    _key("server_log_tail", "the end of the server's log, on a failed row"),
    _key("raw_file", "the raw file under the run folder the row's statistics are recomputed from"),
    _key("unit", "the level a row's comparison takes as its unit: `start` for a server start (rows of a start pair)"),
    _key("start", "index of the pair of server starts the row belongs to (search_query's served build)"),
    _key("launch_order", "position of the server in its start pair's launch order"),
    _key("together", "servers launched together with this one"),
    _key("interleaved", "the variants were measured taking turns within one span (its duration is the span's)"),
    _key("build_variant", "the variant whose build was copied and served under every variant"),
    _key("operating_point", "the search setting the blocks ran at: the cheapest reaching target_recall on the build"),
    _key("build_from", "the run folder or server folder a build was taken from"),
    _key("shape", "a pub/sub op's shape (message size × count)"),
    _key("broker", "what carried a pub/sub op (a broker, or Milvus with its MQ)"),
    _param("publish", "how a pub/sub op published (strict, async, or insert through Milvus)"),
    _param("consistency_level", "the consistency level the requests ran at (the `consistency` parameter unless a "
           "sweep or the time tick set another)"),
    _param("writer_target_rows_per_s", "the background writer's target insert rate", "rows/s"),
    _param("arrivals", "open-loop arrivals: poisson or constant"),
    _param("batch_rows", "rows per insert batch"),
    _param("rows_per_request", "rows per insert request"),
    _param("message_bytes", "bytes per message of a pub/sub op", "B"),
    _param("messages_per_op", "messages per pub/sub op"),
    _param("load_method", "how rows were loaded (streamed inserts or bulk import)"),
    _param("stop_method", "how the server was stopped before recovery"),
    _param("target_rps", "open-loop target rate", "1/s"),
    _param("data_n", "rows of the dataset actually used"),
    _param("data_dim", "its dimension"),
    _param("data_metric", "its metric"),
    _param("data_name", "its name"),
    _param("ground_truth", "where the dataset's exact neighbours came from"),
    _param("data_rc", "its queries' median relative contrast: mean distance to a base row ÷ to the nearest (near 1: hard)"),
    _param("data_lid", "its queries' median local intrinsic dimensionality (MLE over the k neighbours; higher: harder)"),
    _param("data_difficulty_k", "the neighbours data_lid was estimated from"),
    _m("duration_s", "s", "wall time of the phase", "lower", "phase duration"),
    _m("count", "", "measured requests (warm-up excluded)"),
    _m("warmup_count", "", "warm-up requests (not measured)"),
    _m("errors", "", "measured requests that failed"),
    _m("error_rate", "", "share of requests failed", "lower"),
    *_stats("latency", "latency"),
    *_stats("service", "service time (from send)"),
    *_stats("lag", "insert→visible lag"),
    _m("rps", "1/s", "requests that started and finished in the window ÷ window", "higher", "requests per second"),
    _m("window_s", "s", "measurement window"),
    _m("client_cpu_s", "s", "CPU time of the client processes", "lower", "client CPU time"),
    _m("client_cpu_share", "", "client CPU ÷ (span it was measured over × logical cores)", "lower",
       "client share of host CPU"),
    _m("server_cpu_s", "s", "CPU time of the server (or broker) process", "lower", "server CPU time"),
    _m("server_rss_peak_mib", "MiB", "peak resident memory of the server (or broker) process", "lower",
       "server peak RSS"),
    _m("ingest_rss_peak_mib", "MiB", "peak resident memory of the server from the first insert until flushed (a "
       "build's insert and flush phases; computed when the Findings are read)", "lower",
       "server peak RSS while ingesting"),
    _m("mq_storage_bytes", "B", "bytes on disk in the MQ's store at the end of the phase", "lower",
       "MQ bytes on disk"),
    _m("mq_storage_growth_bytes", "B", "growth of the MQ's store over the phase"),
    _m("server_rss_mib", "MiB", "resident memory of the server at the end of the phase (after a load's idle window: "
       "what it holds at rest)", "lower", "server RSS"),
    _m("server_cores_busy", "", "server CPU seconds per second of the phase (1: one core busy the whole time)",
       "lower", "server cores busy"),
    _m("server_cpu_ms_per_request", "ms", "server CPU time of a phase ÷ its measured requests (interleaved blocks: "
       "the server's own process over the span, its background work included)", "lower", "server CPU per request"),
    _m("server_cpu_s_per_gb", "s/GB", "server CPU seconds per GB of row data inserted (10^9 bytes)", "lower",
       "server CPU per GB ingested"),
    _m("client_limited", "", "1 when the client (this process and any loader processes) used at least half as much "
       "CPU as the server during an insert: on shared cores it may have set the pace"),
    _m("loader_cpu_s", "s", "CPU time of the streamed loader processes of an insert"),
    _m("prepare_s", "s", "seconds spent serializing a prepared insert's requests (before the insert phase)"),
    _m("request_bytes", "B", "bytes of a prepared insert's serialized requests"),
    _m("mb_per_s", "MB/s", "MB (10^6 bytes) of row data carried through the MQ per second of insert", "higher",
       "insert MB/s"),
    _m("flushed_s", "s", "seconds from the flush request until the server reported every segment flushed and "
       "persisted (its state polled every 20 ms)", "lower", "time to flushed", resolution=0.02),
    _m("poll_s", "s", "how often a phase that waits on the server (flush, index, compaction, load) polled its state"),
    _m("mq_disk_per_byte", "", "MQ bytes on disk right after the flush ÷ bytes of row data carried", "lower",
       "MQ disk per byte carried"),
    _m("rows", "", "rows the phase handled"),
    _m("rows_per_s", "rows/s", "rows ÷ the time they took (loads: from every loader ready to the last ack)", "higher",
       "rows per second"),
    _m("insert_s", "s", "seconds the inserts of a load took (every loader ready to the last ack)"),
    _m("loader_startup_s", "s", "seconds until every loader process was ready"),
    _m("resumed_batches", "", "insert batches skipped because an interrupted load had acknowledged them"),
    _m("mq_bytes_carried", "B", "bytes of row data carried through the MQ by the load"),
    _m("recall_at_k", "", "recall@k, ties counted by recomputed distance", "higher", "recall@k (ties count)"),
    _m("ndcg_at_k", "", "NDCG@k, binary relevance", "higher", "NDCG@k"),
    _m("scheduled", "", "open-loop requests due in the window"),
    _m("completed", "", "of those, completed without error before the drain deadline"),
    _m("not_sent", "", "of those, never sent (latency censored at the drain deadline)"),
    _m("lags_censored", "", "insert→visible batches never seen within the timeout (kept at the time waited)"),
    _m("lag_km_median_ms", "ms", "insert→visible median lag, Kaplan–Meier over batches censored at the timeout "
       "(missing when half or more were censored: see lag_median_censored)", "lower", "insert→visible median lag"),
    _m("lag_median_censored", "", "1 when half or more batches were never visible: the median is above the timeout"),
    _m("s_per_op", "s", "pub/sub seconds per op, median", "lower", "pub/sub seconds per op"),
    _m("seconds", "s", "seconds one pub/sub op took"),
    _m("sent", "", "messages a pub/sub op sent"),
    _m("received", "", "messages a pub/sub op received"),
    _m("publish_errors", "", "publishes that failed"),
    _m("ack_avg_ms", "ms", "mean time from publish to its acknowledgement"),
    _m("messages_per_s", "1/s", "pub/sub messages per second"),
    _m("mib_per_s", "MiB/s", "pub/sub payload MiB per second"),
    _m("storage_growth_bytes_per_op", "B", "MQ store growth per pub/sub op"),
    _m("writer_achieved_rows_per_s", "rows/s", "the background writer's achieved insert rate inside the window"),
    _m("writer_rows", "", "rows the background writer inserted"),
    _m("writer_late_batches", "", "the writer's batches that started late (it could not keep its rate)"),
    _key("writer_error", "what stopped the background writer, if anything"),
    _m("rows_acked", "", "recovery: rows the server acknowledged before it was killed"),
    _m("rows_visible", "", "recovery: of those, rows visible after the restart"),
    _m("rows_lost", "", "recovery: acknowledged rows never visible after the restart"),
    _m("rows_duplicated", "", "recovery: rows seen more than once after the restart"),
    _m("restart_s", "s", "seconds from the restart until the server answered"),
    _m("serving_s", "s", "recovery: seconds from the restart until the collection served reads"),
    _m("all_visible_s", "s", "recovery: seconds from the restart until every acknowledged row was visible"),
    _param("flush", "whether the migration flushed before stopping the server"),
    _key("migration", "a migration's label: from → to MQ"),
    _m("flush_s", "s", "migration: seconds the flush took"),
    _m("stop_s", "s", "migration: seconds the stop took"),
    _key("backup", "migration: where the old MQ folder was backed up"),
    _key("mq_after", "the MQ the restarted server's log shows"),
    _m("checks", "", "migration: checks made"),
    _m("checks_passed", "", "migration: checks passed"),
    _m("bulk_tasks", "", "bulk import tasks"),
    _m("bulk_write_s", "s", "seconds writing the bulk import files"),
    _param("insert_workers", "loader processes inserting in parallel"),
    _m("start_retries", "", "starts launched again after losing a port or dying while starting"),
    _m("copied_bytes", "B", "bytes of the served build's folder copied for a variant"),
    _m("rows_counted", "", "rows a Strong count(*) saw on the server"),
    _m("segments", "", "segments of the collection loaded on the query node"),
    _m("segment_rows_min", "", "rows of its smallest loaded segment"),
    _m("segment_rows_max", "", "rows of its largest loaded segment"),
    *_milvus(),
]}


@dataclass(frozen=True)
class Judged:
    """Where a verdict reads a column and the rules it is compared by; :mod:`mqbench.stats.findings` derives its
    comparisons from these, so a new metric with a verdict is its column and one entry of :data:`JUDGED`.

    ``at``: the notebooks whose blocks or start pairs compare it, and the load ops whose builds do. ``fixed_per``:
    ``start`` (it waits for the time tick, fixed per server start) or ``build`` (set by the index build): blocks
    within one never judge it. ``phases``: only there (empty: in every phase). ``not_serial``: a serial phase's value
    is another column inverted (a rate). ``milvus``: Milvus's own series (compared only where they are the point).
    ``censored_mean``: a censored batch makes it a lower bound."""
    at: tuple[str, ...]
    fixed_per: str = ""
    phases: tuple[str, ...] = ()
    not_serial: bool = False
    milvus: bool = False
    censored_mean: bool = False


_SQ, _FR, _PS = Notebook.SEARCH_QUERY, Notebook.FRESHNESS_RECOVERY, Notebook.PUBSUB
_MILVUS_PHASES = (Phase.TICK, Phase.MILVUS)
# in the order the Findings list them; the load ops' metrics are judged over builds
JUDGED = {
    "latency_avg_ms": Judged((_SQ, _FR)), "latency_p50_ms": Judged((_SQ,)), "latency_p99_ms": Judged((_SQ,)),
    "rps": Judged((_SQ,), not_serial=True), "recall_at_k": Judged((_SQ,), fixed_per=Unit.BUILD),
    "lag_avg_ms": Judged((_SQ, _FR), censored_mean=True), "lag_km_median_ms": Judged((_SQ, _FR)),
    "milvus_tsafe_wait_ms": Judged((_SQ,), phases=_MILVUS_PHASES, milvus=True),
    "milvus_qn_consume_tt_lag_ms": Judged((_SQ, _PS), fixed_per=Unit.START, phases=_MILVUS_PHASES, milvus=True),
    "server_cpu_ms_per_request": Judged((_SQ,), phases=(Phase.SERIAL, Phase.CONCURRENT)),
    "s_per_op": Judged((_PS,)),
    "milvus_produce_ms": Judged((_PS,), phases=_MILVUS_PHASES, milvus=True),
    "milvus_produce_slow_share": Judged((_PS,), phases=_MILVUS_PHASES, milvus=True),
    # the write path, what it costs the server and the server at rest after the load
    "rows_per_s": Judged((Op.INSERT,)), "server_rss_peak_mib": Judged((Op.INSERT,)),
    "server_cpu_s_per_gb": Judged((Op.INSERT,)), "flushed_s": Judged((Op.FLUSH,)),
    "mq_disk_per_byte": Judged((Op.FLUSH,)), "ingest_rss_peak_mib": Judged((Op.FLUSH,)),
    "duration_s": Judged((Op.INDEX, Op.LOAD)), "server_rss_mib": Judged((Op.IDLE,)),
    "server_cores_busy": Judged((Op.IDLE,)),
}
COLUMNS.update({name: dataclasses.replace(COLUMNS[name], judged=rule) for name, rule in JUDGED.items()})


def judged_at(where: str) -> list[str]:
    """The columns a verdict reads in notebook ``where`` (blocks, start pairs) or on load op ``where`` (builds)."""
    return [name for name, rule in JUDGED.items() if where in rule.at]


def judged_by(**rule) -> set[str]:
    """The judged columns whose rule has every given value (``judged_by(milvus=True)``)."""
    return {name for name, j in JUDGED.items() if all(getattr(j, k) == v for k, v in rule.items())}


def declared(name: str) -> bool:
    """Whether ``name`` is a registered summary column."""
    return name in COLUMNS


def label(name: str) -> str:
    """A column's short label (its name when it is not registered)."""
    return COLUMNS[name].title if name in COLUMNS else name


# steps set by how a value was taken rather than by its column: (op, column) -> (step, why)
OP_RESOLUTION = {  # phases timed by a poll, in rows recorded before their poll interval was (``poll_s``)
    (Op.FLUSH, "duration_s"): (0.5, "pymilvus's flush() polls the segment state every 0.5 s"),
    (Op.INDEX, "duration_s"): (0.5, "the index state was polled every 0.5 s"),
    (Op.COMPACT, "duration_s"): (0.5, "the compaction state was polled every 0.5 s"),
    (Op.LOAD, "duration_s"): (0.2, "pymilvus polls the loading progress every 0.2 s")}
POLLED = "a poll of the server's state every {step:g} s"
WHOLE_MS = "Milvus observes it in whole milliseconds, truncated"


def resolution(name: str, op: str = "", poll_s: float | None = None) -> tuple[float, str]:
    """(the smallest step a value of column ``name`` measured by ``op`` can take, why); (0, "") when fine. A phase
    timed by a poll of ``poll_s`` seconds (recorded with its rows) is resolved to it; without one, as before."""
    if (op, name) in OP_RESOLUTION:
        if poll_s is not None and poll_s == poll_s:
            return poll_s, POLLED.format(step=poll_s)
        return OP_RESOLUTION[(op, name)]
    step = COLUMNS[name].resolution if name in COLUMNS else 0.0
    return (step, WHOLE_MS) if step else (0.0, "")


def scale(name: str) -> str:
    """``ratio`` or ``difference``: how a comparison of column ``name`` is expressed."""
    return COLUMNS[name].scale if name in COLUMNS else "ratio"


def better(name: str) -> str:
    """``lower``/``higher`` for a metric a comparison reads (``lower`` when it is not registered)."""
    return COLUMNS[name].better if name in COLUMNS and COLUMNS[name].better else "lower"
