"""Loading a collection: create, batched insert, flush, build an index, load."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from pymilvus import DataType
from tqdm import tqdm

from .formats import ArraySource, Source

ID_FIELD, VECTOR_FIELD, ATTR_FIELD = "id", "vector", "attr"
ATTR_RANGE = 10_000


def attr_values(ids: np.ndarray) -> np.ndarray:
    """The ``attr`` column: a fixed hash of the id into [0, 10000), uncorrelated with insert order,
    so ``attr < x`` keeps about x/10000 of the rows in every segment."""
    return (np.asarray(ids, dtype=np.int64) * 2654435761) % ATTR_RANGE


class IngestError(RuntimeError):
    """The collection or the data do not fit together, or a load phase failed."""


def rows_of(ids: np.ndarray, block: np.ndarray, with_attr: bool) -> list[dict]:
    """Insert rows for ids and their vectors (and the ``attr`` column when the collection has it)."""
    rows = [{ID_FIELD: int(i), VECTOR_FIELD: v} for i, v in zip(ids.tolist(), block)]
    if with_attr:
        for row, a in zip(rows, attr_values(ids).tolist()):
            row[ATTR_FIELD] = a
    return rows


def create_collection(client, name: str, dim: int, metric: str, shards: int = 1, attr: bool = False) -> None:
    """A fresh collection ``name`` (id INT64 primary key, vector FLOAT_VECTOR(dim), with ``attr`` an
    INT64 ``attr`` column for scalar filters); drops an old one."""
    if client.has_collection(name):
        client.drop_collection(name)
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field(ID_FIELD, DataType.INT64, is_primary=True)
    schema.add_field(VECTOR_FIELD, DataType.FLOAT_VECTOR, dim=dim)
    if attr:
        schema.add_field(ATTR_FIELD, DataType.INT64)
    client.create_collection(name, schema=schema, shards_num=shards, consistency_level="Bounded")


@dataclass(frozen=True)
class Target:
    """A collection to load into, described once, and the data checked against it."""

    source: Source
    dim: int
    with_attr: bool      # the collection has the ``attr`` column
    collection_id: int


def collection_dim(client, name: str) -> int:
    fields = {f["name"]: f for f in client.describe_collection(name)["fields"]}
    if VECTOR_FIELD not in fields:
        raise IngestError(f"collection {name!r} has no field {VECTOR_FIELD!r}")
    return int(fields[VECTOR_FIELD]["params"]["dim"])


def target(client, name: str, data) -> Target:
    """``data`` (a :class:`~mqbench.formats.Source` or an array) checked against collection ``name``."""
    info = client.describe_collection(name)
    fields = {f["name"]: f for f in info["fields"]}
    if VECTOR_FIELD not in fields:
        raise IngestError(f"collection {name!r} has no field {VECTOR_FIELD!r}")
    dim = int(fields[VECTOR_FIELD]["params"]["dim"])
    source = ArraySource(data) if isinstance(data, np.ndarray) else data
    if source.dim != dim:
        raise IngestError(f"dimension mismatch: collection {name!r} has dim {dim}, data {source.path} has dim "
                          f"{source.dim}")
    return Target(source, dim, ATTR_FIELD in fields, info.get("collection_id"))


def insert(client, name: str, data, n: int | None = None, batch_rows: int = 5000, progress: bool = True,
           guard=None, timeout_s: float = 120) -> int:
    """Stream the first ``n`` rows of ``data`` (a :class:`~mqbench.formats.Source` or an array) into
    ``name``, ``batch_rows`` per request, ids from the source; returns rows acknowledged.

    ``guard()`` runs after every batch and may raise to stop the ingest; a request that takes
    longer than ``timeout_s`` is an error, never a hang.
    """
    into = target(client, name, data)
    source, with_attr = into.source, into.with_attr
    if batch_rows < 1:
        raise IngestError(f"batch_rows must be >= 1, got {batch_rows}")
    total = source.check_limit(n)
    done = 0
    with tqdm(total=total, unit="rows", desc=f"insert {name}", disable=not progress, mininterval=1.0) as bar:
        for ids, block in source.chunks(batch_rows, limit=total):
            count = int(client.insert(name, rows_of(ids, block, with_attr), timeout=timeout_s)["insert_count"])
            if count != len(block):
                raise IngestError(f"insert into {name!r} acknowledged {count} of {len(block)} rows at id {ids[0]}")
            done += count
            bar.update(count)
            if guard is not None:
                guard()
    return done


def count_rows(client, name: str) -> int:
    """Rows visible to a Strong ``count(*)``."""
    return int(client.query(name, filter="", output_fields=["count(*)"], consistency_level="Strong")[0]["count(*)"])


def build_index(client, name: str, metric: str, index_type: str, params: dict,
                timeout_s: float = 3600) -> None:
    """Create the vector index and wait until every row is indexed."""
    index_params = client.prepare_index_params()
    index_params.add_index(field_name=VECTOR_FIELD, index_type=index_type, metric_type=metric,
                           params=dict(params))
    client.create_index(name, index_params)
    index_name = client.list_indexes(name)[0]
    deadline = time.monotonic() + timeout_s
    while True:
        info = client.describe_index(name, index_name)
        if info.get("state") == "Failed":
            raise IngestError(f"index build on {name!r} failed: {info.get('index_state_fail_reason')}")
        if info.get("pending_index_rows", 0) == 0 and info.get("indexed_rows") == info.get("total_rows"):
            return
        if time.monotonic() > deadline:
            raise IngestError(f"index build on {name!r} not finished after {timeout_s:.0f} s: {info}")
        time.sleep(0.5)
