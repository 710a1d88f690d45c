"""``scale_curve.ipynb``: for each N a fresh server — load, index, then Table 2's four numbers (serial search
and query latency, search and query RPS) with percentiles and recall — so each cost is measured at N."""
from __future__ import annotations

from mqbench.core import checks, schema, studies
from mqbench.core.errors import ParameterError
from mqbench.core.schema import Notebook
from mqbench.data import datasets, pipeline
from mqbench.measure import workload
from mqbench.measure.workload import Spec
from mqbench.milvus import indexes
from mqbench.stats import design

NOTEBOOK = Notebook.SCALE_CURVE
STUDY = studies.declare(studies.Study(NOTEBOOK))  # its loads are compared over builds, by their ops
# what the notebook calls after check(), in order
STEPS = ("data_at", "variant", "measure", "line")
COLLECTION = "mqbench_scale"


def check(p: dict) -> None:
    """Every parameter, before any server starts (the dataset's dimension is known only for synthetic data
    here; file datasets are checked again by the load)."""
    sizes = p["sizes"]
    checks.int_list("sizes", sizes, minimum=100)

    if sizes != sorted(sizes):
        raise ParameterError(f"sizes must be ascending, got {sizes}")
    checks.one_of("load_method", p["load_method"], pipeline.LOAD_METHODS)
    if p["load_method"] == schema.LoadMethod.BULK and p["uri"]:
        raise ParameterError("load_method must be insert, prepared or bulk (bulk on embedded servers only: the files must be "
                             "in the server's storage)")
    for name in ("serial_requests", "clients", "queries", "k", "insert_workers"):
        checks.integer(name, p[name])
    checks.integer("warmup_requests", p["warmup_requests"], minimum=0)
    for name in ("rps_window_s", "batch_mb"):
        checks.positive_number(name, p[name])
    checks.positive_number("rps_warmup_s", p["rps_warmup_s"], allow_zero=True)
    checks.positive_number("idle_s", p["idle_s"], allow_zero=True)
    checks.integer("queries", p["queries"])
    if not isinstance(p["label"], str):
        raise ParameterError(f"label must be a string (empty: the MQ's name), got {p['label']!r}")
    design.parse_variants(variant(p), external=bool(p["uri"]))  # the MQ, and a release only on embedded servers
    if not isinstance(p["reads"], bool):
        raise ParameterError(f"reads must be true or false, got {p['reads']!r}")
    checks.one_of("consistency", p["consistency"], workload.CONSISTENCY)
    indexes.check_index(p["index_type"], p["index_params"], p["dim"], embedded=not p["uri"])
    indexes.check_search(p["index_type"], p["search_params"], p["index_params"], p["k"])


def variant(p: dict) -> dict:
    """The one variant of a cell, as a ``variants`` entry: its MQ, label and Milvus release."""
    return {"mq": p["mq"], "label": p["label"], "version": p["milvus_release"]}


def data_at(p: dict, size: int):
    """The dataset at N = ``size`` (the first ``size`` rows), with exact ground truth for the queries."""
    return datasets.load(p["dataset"], n=size, nq=p["queries"], k=p["k"], metric=p["metric"], dim=p["dim"],
                         seed=p["seed"])


def measure(session, variant, data, p: dict) -> dict[str, dict]:
    """Load ``data`` into ``variant`` and measure it; returns every recorded row by name. With ``ingest_only``
    the load stops after the flush (the ingest through the MQ; a grid's repeats make builds the unit); without
    ``reads`` it stops after the collection is loaded. Either way an ``idle_s`` window then records the server's
    CPU and memory at rest."""
    pipeline.check_room(session, data.n, data.dim, p["index_type"], p["index_params"], compact=p["compact"])
    rows = pipeline.load(session, variant, COLLECTION, data, p["index_type"], p["index_params"], p["load_method"],
                         p["batch_mb"], p["insert_workers"], p["compact"], index=not p["ingest_only"])
    if p["idle_s"] > 0:
        rows["idle"] = session.idle(variant, p["idle_s"])
    if p["ingest_only"] or not p["reads"]:
        return rows
    search = Spec(schema.Op.SEARCH, COLLECTION, p["consistency"], queries=data.queries, k=p["k"],
                  search_params=p["search_params"])
    lookup = Spec(schema.Op.QUERY, COLLECTION, p["consistency"], n=data.n, seed=p["seed"])
    for spec in (search, lookup):
        with session.track(spec.kind, schema.Phase.SERIAL, variant, dataset=data, k=p["k"]) as t:
            t.result = workload.serial(variant.conn, spec, p["serial_requests"], p["warmup_requests"])
        rows[f"{spec.kind}_serial"] = t.row
    pool = session.client_pool(p["clients"])
    for spec in (search, lookup):
        with session.track(spec.kind, schema.Phase.CONCURRENT, variant, concurrency=p["clients"]) as t:
            t.result = pool.closed_loop(spec, p["clients"], p["rps_window_s"], p["rps_warmup_s"], variant.label)
        rows[f"{spec.kind}_concurrent"] = t.row
    pool.close()
    session.pools.remove(pool)
    return rows


def line(data, rows: dict) -> str:
    """One printed line per N."""
    ins, flush = rows["insert"], rows["flush"]
    if "search_serial" not in rows:
        limited = " (client-limited)" if ins.get("client_limited") else ""
        return (f"N={data.n:>12,}: insert {ins['rows_per_s']:9,.0f} rows/s{limited}, "
                f"{ins.get('mb_per_s', float('nan')):.1f} MB/s, flushed in {flush.get('flushed_s', float('nan')):.2f} s, "
                f"server peak {ins.get('server_rss_peak_mib') or float('nan'):,.0f} MiB, "
                f"MQ {flush.get('mq_storage_bytes') or float('nan'):,.0f} B on disk")
    idx, ser, conc = rows["index"], rows["search_serial"], rows["search_concurrent"]
    return (f"N={data.n:>12,}: insert {ins['rows_per_s']:9,.0f} rows/s, index {idx['duration_s']:7.1f} s, "
            f"search {ser['latency_avg_ms']:.2f} ms (recall {ser.get('recall_at_k', float('nan')):.3f}), "
            f"{conc['rps']:.0f} rps; query {rows['query_serial']['latency_avg_ms']:.2f} ms, "
            f"{rows['query_concurrent']['rps']:.0f} rps")
