"""Putting data into a collection: the data checked against the collection, a streamed serial insert,
and the small exact-search collection several notebooks use."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mqbench.core import progress
from mqbench.core.errors import IngestError
from mqbench.data.formats import ArraySource, Source
from mqbench.milvus.client import ATTR_FIELD, VECTOR_FIELD


@dataclass(frozen=True)
class Target:
    """A collection to load into, described once, and the data checked against it."""

    source: Source
    dim: int
    with_attr: bool      # the collection has the ``attr`` column
    collection_id: int


def target(client, name: str, data) -> Target:
    """``data`` (a :class:`~mqbench.data.formats.Source` or an array) checked against collection ``name``."""
    info = client.describe(name)
    fields = {f["name"]: f for f in info["fields"]}
    if VECTOR_FIELD not in fields:
        raise IngestError(f"collection {name!r} has no field {VECTOR_FIELD!r}")
    dim = int(fields[VECTOR_FIELD]["params"]["dim"])
    source = ArraySource(data) if isinstance(data, np.ndarray) else data
    if source.dim != dim:
        raise IngestError(f"dimension mismatch: collection {name!r} has dim {dim}, data {source.path} has dim "
                          f"{source.dim}")
    return Target(source, dim, ATTR_FIELD in fields, info.get("collection_id"))


def insert(client, name: str, data, n: int | None = None, batch_rows: int = 5000, show_progress: bool = True,
           guard=None, timeout_s: float = 120, first_id: int = 0) -> int:
    """Stream the first ``n`` rows of ``data`` (a :class:`~mqbench.data.formats.Source` or an array) into
    ``name``, ``batch_rows`` per request, ids from the source (plus ``first_id``); returns rows acknowledged.

    ``guard()`` runs after every batch and may raise to stop the ingest; a request that takes
    longer than ``timeout_s`` is an error, never a hang.
    """
    into = target(client, name, data)
    if batch_rows < 1:
        raise IngestError(f"batch_rows must be >= 1, got {batch_rows}")
    total = into.source.check_limit(n)
    done = 0
    with progress.bar(total, f"insert {name}", disable=not show_progress) as bar:
        for ids, block in into.source.chunks(batch_rows, limit=total):
            count = client.insert(name, ids + first_id, block, timeout_s=timeout_s)
            if count != len(block):
                raise IngestError(f"insert into {name!r} acknowledged {count} of {len(block)} rows at id {ids[0]}")
            done += count
            bar.update(count)
            if guard is not None:
                guard()
    return done


def flat_collection(client, name: str, dim: int, metric: str = "L2") -> None:
    """A fresh, loaded collection with an exact (FLAT) index: queries see growing rows as they are, and
    top-k compares data rather than an approximation built later."""
    client.create_collection(name, dim)
    client.build_index(name, metric, "FLAT", {})
    client.load(name)
