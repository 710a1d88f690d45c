"""The load pipeline every notebook shares — create → insert (or bulk import) → flush → index → load,
each phase a tracked summary row — and the disk and memory it needs, checked before it starts.

Space, per row of ``dim`` float32 values with an INT64 id and an INT64 ``attr`` (``row_bytes`` =
4·dim + 16; Milvus adds an 8-byte timestamp and an 8-byte row id in its binlogs):

* the MQ keeps every insert message (RocksMQ and natsmq retain them for days by default): ≈ row_bytes·N;
* the binlogs of the flushed segments: ≈ (row_bytes + 16)·N;
* the index: FLAT/IVF_FLAT ≈ 4·dim·N (plus the ids), IVF_SQ8 ≈ dim·N, IVF_PQ ≈ m·N, HNSW ≈ (4·dim + 2·M·4)·N;
* memory once loaded: the index, the raw vectors (Milvus 2.3.5 loads them beside an IVF_FLAT index), the id,
  attr and timestamp columns (24 B/row), and ~1 GiB of server.

* a compaction (``compact``) writes the merged segments' binlogs and index before the old ones go: another
  copy of both at its peak.

At 100M rows of dim 16: row_bytes = 80, so the MQ ≈ 7.5 GiB, binlogs ≈ 8.9 GiB, IVF_FLAT ≈ 6.7 GiB: ≈ 23 GiB
of disk, with 20% slack ≈ 28 GiB — and with compaction 38.7 GiB, with slack ≈ 46 GiB (a RocksMQ server folder
at 10^8 rows peaked at 40.7 GiB during compaction, above the 28 GiB this module asked for before it counted
the second copy); memory ≈ 6.7 + 6.0 + 2.2 + 1 ≈ 16 GiB.
"""
from __future__ import annotations

from mqbench.core import schema
from mqbench.core.errors import ParameterError
from mqbench.core.room import check_memory, dir_bytes
from mqbench.data import bulk, loader, prepared
from mqbench.milvus.client import POLL_S

LOAD_METHODS = tuple(schema.LoadMethod)


def row_bytes(dim: int) -> int:
    """Bytes of one row's data as mqbench inserts it (vector, id, attr)."""
    return 4 * dim + 16


def index_bytes(n: int, dim: int, index_type: str, index_params: dict) -> float:
    per_row = {"FLAT": 4 * dim, "IVF_FLAT": 4 * dim, "IVF_SQ8": dim, "IVF_PQ": index_params.get("m", dim // 2),
               "HNSW": 4 * dim + 8 * index_params.get("M", 16), "AUTOINDEX": 4 * dim + 128}
    return n * (per_row.get(index_type, 4 * dim) + 8)


def needs(n: int, dim: int, index_type: str, index_params: dict, slack: float = 1.2,
          compact: bool = False) -> tuple[float, float]:
    """(disk bytes, memory bytes) a load of ``n`` rows needs, by the arithmetic in this module's docstring."""
    segments = n * (row_bytes(dim) + 16) + index_bytes(n, dim, index_type, index_params)
    disk = (n * row_bytes(dim) + segments * (2 if compact else 1)) * slack
    memory = index_bytes(n, dim, index_type, index_params) + 4 * dim * n + 24 * n + 2**30
    return disk, memory


def check_room(session, n: int, dim: int, index_type: str, index_params: dict, servers: int = 1,
               compact: bool = False) -> None:
    """Refuse to start a load that the free disk or the available memory cannot hold (``servers``
    loads side by side; ``compact``: counting the compaction's peak)."""
    disk, memory = needs(n, dim, index_type, index_params, compact=compact)
    session.check_disk(servers * disk, f"loading {n:,} rows of dim {dim} into {servers} server(s)")
    check_memory(servers * memory, f"serving {n:,} rows of dim {dim} with {index_type} on {servers} server(s)")


def load(session, variant, collection: str, data, index_type: str, index_params: dict, method: str = "insert",
         batch_mb: float = 4.0, workers: int = 2, compact: bool = False, index: bool = True) -> dict[str, dict]:
    """Load ``data`` (its first ``data.n`` rows) into ``collection`` on ``variant`` and make it searchable.

    Returns the recorded summary row of each phase by op (``create``, ``insert``, ``flush``, ``index``,
    ``compact`` when asked, ``load``). The insert row carries ``rows_per_s`` from the moment every loader was connected,
    ``mq_bytes_carried`` and the insert curve (``raw_file``: time, rows acknowledged, MQ bytes). ``compact``
    merges the small segments the load left and waits until the merged ones are indexed, as VectorDBBench's
    "optimize" does: without it Milvus keeps compacting and re-indexing in the background for minutes after a
    large load (measured: 26 minutes at 10^8 rows), competing with whatever is measured next. On a collection of
    one segment it only costs time (about 30 s per server here), so it is a parameter. Without ``index`` the
    load stops after the flush: the ingest alone (insert through the MQ, flush), nothing searchable.
    """
    if method not in LOAD_METHODS or (method == schema.LoadMethod.BULK and variant.server is None):
        raise ParameterError(f"load_method must be insert, prepared or bulk (bulk on embedded servers only: the files must be "
                             f"in the server's storage), got {method!r}")
    done, label = {}, variant.label
    checkpoint = session.checkpoint_path(f"insert-{label}-{collection}")
    with variant.conn.client(timeout=3600) as client:
        with session.track(schema.Op.CREATE, schema.Phase.LOAD, variant) as t:
            resume = loader.open_collection(client, collection, data.dim, checkpoint)
        done[schema.Op.CREATE] = t.row
        ready = prepared.prepare(variant.conn, collection, data.base, data.n, batch_mb) \
            if method == schema.LoadMethod.PREPARED \
            else None  # before the insert phase: its clock and CPU counters time the sending alone
        with session.track(schema.Op.INSERT, schema.Phase.LOAD, variant, rows=data.n, load_method=method) as t:
            t.extra.update(_insert(session, variant, collection, data, method, batch_mb, workers, checkpoint, resume)
                           if ready is None else _send(session, variant, ready, workers, data.dim))
        done[schema.Op.INSERT] = t.row
        flushed = {}

        def flush() -> None:
            flushed["flushed_s"] = client.flush(collection)
            carried, stored = done[schema.Op.INSERT].get("mq_bytes_carried"), dir_bytes(_store(variant))
            if carried and stored is not None:
                flushed["mq_disk_per_byte"] = stored / carried

        steps = [(schema.Op.FLUSH, flush),
                 (schema.Op.INDEX, lambda: client.build_index(collection, data.metric, index_type, index_params)),
                 (schema.Op.COMPACT, lambda: client.compact(collection)),
                 (schema.Op.LOAD, lambda: client.load(collection))]
        wanted = [schema.Op.FLUSH] if not index else [op for op, _ in steps if compact or op != schema.Op.COMPACT]
        for op, call in (step for step in steps if step[0] in wanted):
            with session.track(op, schema.Phase.LOAD, variant, rows=data.n, index_type=index_type) as t:
                call()
                t.extra.update(flushed if op == schema.Op.FLUSH else {}, poll_s=POLL_S)
            done[op] = t.row
    return done


def _store(variant):
    """The MQ store folders of ``variant``'s embedded server (None for an external one)."""
    return variant.server.mq_store_dirs if variant.server else None


def _send(session, variant, ready: prepared.Prepared, senders: int, dim: int) -> dict:
    """The insert phase's extra columns for prepared requests (sent by ``senders`` threads of this process, so the
    phase's client CPU is the whole client's)."""
    stats = prepared.send(variant.conn, ready, senders)
    curve = session.write_raw(f"insert-curve-{variant.label}", stats.curve_frame(), **variant.columns)
    return {"batch_rows": ready.batch_rows, "insert_workers": senders, "prepare_s": ready.prepare_s,
            "insert_s": stats.seconds, "rows_per_s": stats.rows / stats.seconds, "request_bytes": ready.bytes,
            "mq_bytes_carried": stats.rows * row_bytes(dim), "raw_file": curve}


def _insert(session, variant, collection, data, method, batch_mb, workers, checkpoint, resume) -> dict:
    """The insert phase's extra columns (rows/s from loaders ready, the curve as a raw file)."""
    carried = {"mq_bytes_carried": data.n * row_bytes(data.dim)}
    if method == schema.LoadMethod.BULK:
        imported = bulk.bulk_import(variant.conn, collection, data.base, data.n,
                                    variant.server.base_dir / "data" / "bulk")
        return {"bulk_tasks": imported.tasks, "bulk_write_s": imported.write_s, "rows_per_s": imported.rows_per_s,
                "mq_bytes_carried": 0}
    store = _store(variant)
    stats = loader.load(variant.conn, collection, data.base, data.n, batch_mb=batch_mb, workers=workers,
                        checkpoint=checkpoint, resume=resume, guard=session.storage_guard(variant), store_dir=store)
    curve = session.write_raw(f"insert-curve-{variant.label}", stats.curve_frame(), **variant.columns)
    return {"batch_rows": stats.batch_rows, "resumed_batches": stats.resumed_batches, "insert_workers": workers,
            "rows_per_s": stats.rows_per_s, "insert_s": stats.seconds, "loader_startup_s": stats.startup_s,
            "loader_cpu_s": stats.loader_cpu_s,
            "raw_file": curve, **carried}
