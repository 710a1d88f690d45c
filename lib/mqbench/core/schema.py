"""The contract between notebooks, the summary and the report: op, phase and sweep names, and the
declared summary columns with their units.

Notebooks write rows with these names; the report, the scaling fits, the seed tables and the
exports read them by the same constants. Requested parameters are columns under their own names
(exactly as given); what a run measured or derived from them has its own columns (``data_n``,
``data_dim``, … for the dataset actually used), so the two never overwrite each other.
"""
from __future__ import annotations

# ops
OP_SERVER_START, OP_SERVER_STOP = "server_start", "server_stop"
OP_CREATE, OP_INSERT, OP_FLUSH, OP_INDEX, OP_COMPACT, OP_LOAD = "create", "insert", "flush", "index", "compact", "load"
OP_SEARCH, OP_QUERY, OP_FILTER_QUERY, OP_COUNT = "search", "query", "filter_query", "count"
OP_PUBSUB = "pubsub"
OP_INSERT_VISIBLE, OP_STRONG_READ = "insert_visible", "strong_read"
OP_INGEST_GROWTH, OP_RECOVERY, OP_MIGRATION = "ingest_growth", "recovery", "migration"
OP_COUNT_ROWS, OP_COPY_BUILD = "count_rows", "copy_build"  # the server's own count and segments; a served copy
LOAD_OPS = (OP_SERVER_START, OP_INSERT, OP_FLUSH, OP_INDEX, OP_COMPACT, OP_LOAD)

# phases
PHASE_LIFECYCLE, PHASE_LOAD = "lifecycle", "load"
PHASE_SERIAL, PHASE_CONCURRENT, PHASE_OPEN_LOOP = "serial", "concurrent", "open_loop"
PHASE_MIXED, PHASE_FRESHNESS, PHASE_TICK = "mixed", "freshness", "tick"
PHASE_BROKER, PHASE_MILVUS = "broker", "milvus"
PHASE_INGEST, PHASE_RECOVERY, PHASE_MIGRATE, PHASE_VERIFY = "ingest", "recovery", "migrate", "verify"

# sweeps of search_query.ipynb
SWEEP_BLOCKS = "blocks"            # the paired blocks behind the verdicts
SWEEP_WARMUP = "warmup"            # the recorded, excluded warm-up block of each start
SWEEP_TICK = "tick"                # the Strong-read and insert→visible samples of each start
SWEEP_CONCURRENCY, SWEEP_OPEN_LOOP = "concurrency", "open_loop"
SWEEP_SEARCH_PARAMS, SWEEP_CONSISTENCY = "search_params", "consistency"
SWEEP_SHAPE, SWEEP_QUERY_KIND = "shape", "query_kind"

# Declared summary columns: name -> (unit, meaning). Units are in the names; MiB are 2**20 bytes.
COLUMNS = {
    "run_id": ("", "UTC timestamp + short git sha of the run"),
    "notebook": ("", "the notebook that measured the row"),
    "variant": ("", "label of the compared server configuration (an MQ plus overrides)"),
    "variant_index": ("", "0 for the baseline variant; ratios are variant ÷ baseline"),
    "mq": ("", "the message queue of the variant"),
    "block": ("", "index of the paired block (or server-start pair) the row belongs to"),
    "block_order": ("", "position of the variant within its block"),
    "repeat": ("", "grid repeat"),
    "op": ("", "what was measured (schema.OP_*)"),
    "phase": ("", "how it was measured (schema.PHASE_*)"),
    "sweep": ("", "which sweep of search_query.ipynb (schema.SWEEP_*)"),
    "point": ("", "the sweep point (a search-parameter value, request shape or query kind)"),
    "concurrency": ("", "client processes used"),
    "status": ("", "ok or failed"),
    "error": ("", "what failed"),
    "duration_s": ("s", "wall time of the phase"),
    "count": ("", "measured requests (warm-up excluded)"),
    "errors": ("", "measured requests that failed"),
    "latency_count": ("", "latencies behind the percentiles"),
    "rps": ("1/s", "requests that started and finished in the window ÷ window"),
    "window_s": ("s", "measurement window"),
    "client_cpu_s": ("s", "CPU time of the client processes"),
    "client_cpu_share": ("", "client CPU ÷ (span it was measured over × logical cores)"),
    "server_cpu_s": ("s", "CPU time of the server (or broker) process"),
    "server_rss_peak_mib": ("MiB", "peak resident memory of the server (or broker) process"),
    "mq_storage_bytes": ("B", "bytes on disk in the MQ's store at the end of the phase"),
    "rows": ("", "rows the phase handled"),
    "rows_per_s": ("rows/s", "rows ÷ the time they took (loads: from every loader ready to the last ack)"),
    "mq_bytes_carried": ("B", "bytes of row data carried through the MQ by the load"),
    "recall_at_k": ("", "recall@k, ties counted by recomputed distance"),
    "ndcg_at_k": ("", "NDCG@k, binary relevance"),
    "target_rps": ("1/s", "open-loop target rate"),
    "scheduled": ("", "open-loop requests due in the window"),
    "completed": ("", "of those, completed without error before the drain deadline"),
    "not_sent": ("", "of those, never sent (latency censored at the drain deadline)"),
    "data_n": ("", "rows of the dataset actually used"),
    "data_dim": ("", "its dimension"),
    "data_metric": ("", "its metric"),
    "data_name": ("", "its name"),
    "lag_p50_ms": ("ms", "insert→visible lag, median (from 20 batches)"),
    "s_per_op": ("s", "pub/sub seconds per op, median"),
    "mib_per_s": ("MiB/s", "pub/sub payload MiB per second"),
    "storage_growth_bytes_per_op": ("B", "MQ store growth per pub/sub op"),
    "unit": ("", "the level a row's comparison takes as its unit: `start` for a server start (rows of a start pair)"),
    "start": ("", "index of the pair of server starts the row belongs to (search_query's served build)"),
    "launch_order": ("", "position of the server in its start pair's launch order"),
    "start_retries": ("", "starts launched again after losing a port or dying while starting"),
    "build_variant": ("", "the variant whose build was copied and served under every variant"),
    "copied_bytes": ("B", "bytes of the served build's folder copied for a variant"),
    "rows_counted": ("", "rows a Strong count(*) saw on the server"),
    "segments": ("", "segments of the collection loaded on the query node"),
    "segment_rows_min": ("", "rows of its smallest loaded segment"),
    "segment_rows_max": ("", "rows of its largest loaded segment"),
    "interleaved": ("", "the variants were measured taking turns within one span (its duration is the span's)"),
    "lag_avg_ms": ("ms", "insert→visible lag, mean (a batch never seen counts at the time waited)"),
    "lags_censored": ("", "insert→visible batches never seen within the timeout (kept at the time waited)"),
    "milvus_proxy_sq_ms": ("ms", "Milvus: the proxy's search/query, mean over the phase (whole ms, truncated)"),
    "milvus_proxy_wait_result_ms": ("ms", "Milvus: the proxy waiting for the query node's result"),
    "milvus_tsafe_wait_ms": ("ms", "Milvus: the query node waiting for tSafe (the time tick)"),
    "milvus_qn_queue_ms": ("ms", "Milvus: the request in the query node's queue"),
    "milvus_qn_req_ms": ("ms", "Milvus: the query node's whole request on the shard leader"),
    "milvus_qn_segment_ms": ("ms", "Milvus: searching the segments"),
    "milvus_produce_ms": ("ms", "Milvus: one produce call (Send) of its MQ client, per message"),
    "milvus_mutation_send_ms": ("ms", "Milvus: the proxy sending an insert's messages to the DML channels"),
    "milvus_produce_p50_le_ms": ("ms", "Milvus: the bucket bound under which half the phase's produce calls fell"),
    "milvus_produce_p99_le_ms": ("ms", "Milvus: the bucket bound under which 99% of them fell (from 1,000 calls)"),
    "milvus_qn_consume_tt_lag_ms": ("ms", "Milvus: query node's consumed time tick behind now, end of phase"),
    "milvus_dn_consume_tt_lag_ms": ("ms", "Milvus: data node's consumed time tick behind now, end of phase"),
    "milvus_rootcoord_produce_tt_lag_ms": ("ms", "Milvus: rootcoord's produced time tick behind now, end of phase"),
    "milvus_proxy_tt_lag_ms": ("ms", "Milvus: the proxy's time-tick lag, end of phase"),
}
MILVUS_COUNTS = "each histogram column `milvus_X_ms` has a count `milvus_X_n`: the calls Milvus timed in the phase"
