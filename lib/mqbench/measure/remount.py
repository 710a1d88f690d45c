"""The seed's RocksMQ→NATS migration (or back), automated and verified.

Procedure: stop writes → ``flush`` every collection and wait → stop Milvus → set ``mq.type`` (and
``natsmq.*``/``rocksmq.*`` options) → restart on the same data → back up, then optionally remove, the
old MQ's folder. Verified by row counts, a checksum over sorted (id, vector), identical top-k for a
fixed query set, and unchanged schema and index. The old MQ folder is never touched before the flush
is confirmed, and never deleted without a backup. A migration with nothing to verify (no collection,
or no rows) is an error, never a silent pass.
"""
from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

import numpy as np

from mqbench.core.errors import MigrationError, ServerError
from mqbench.milvus.client import ID_FIELD, VECTOR_FIELD
from mqbench.milvus.server import EmbeddedMilvus, check_mq

PAGE = 10_000


def snapshot(client, collection: str, queries: np.ndarray, k: int = 10) -> dict:
    """What must survive a migration: count, checksum of sorted (id, vector), top-k ids, schema, index."""
    count = client.count(collection)
    digest, seen = hashlib.sha256(), 0
    condition = f"{ID_FIELD} >= {-(2 ** 63 - 1)}"  # Milvus cannot parse -2**63 itself
    while page := client.query(collection, condition, [ID_FIELD, VECTOR_FIELD], limit=PAGE, consistency="Strong"):
        page.sort(key=lambda row: row[ID_FIELD])
        for row in page:
            digest.update(np.int64(row[ID_FIELD]).tobytes())
            digest.update(np.asarray(row[VECTOR_FIELD], dtype=np.float32).tobytes())
        seen += len(page)
        condition = f"{ID_FIELD} > {page[-1][ID_FIELD]}"
    schema = [(f["name"], str(f["type"]), f.get("params", {}), f.get("is_primary", False))
              for f in client.fields(collection).values()]
    return {"count": count, "rows_read": seen, "checksum": digest.hexdigest(),
            "topk": client.search(collection, queries, k, consistency="Strong"), "schema": schema,
            "index": client.indexes(collection)}


def compare(before: dict, after: dict) -> list[dict]:
    """One check per property: passed or not, with the numbers. Nothing to compare fails the first check."""
    same_topk = sum(a == b for a, b in zip(before["topk"], after["topk"]))
    return [
        {"check": "rows to verify", "passed": before["count"] > 0 and before["rows_read"] == before["count"],
         "before": before["count"], "after": before["rows_read"]},
        {"check": "row count", "passed": before["count"] == after["count"],
         "before": before["count"], "after": after["count"]},
        {"check": "checksum of sorted (id, vector)", "passed": before["checksum"] == after["checksum"],
         "before": before["checksum"][:16], "after": after["checksum"][:16]},
        {"check": "identical top-k", "passed": bool(before["topk"]) and same_topk == len(before["topk"]),
         "before": len(before["topk"]), "after": same_topk},
        {"check": "schema unchanged", "passed": before["schema"] == after["schema"],
         "before": len(before["schema"]), "after": len(after["schema"])},
        {"check": "index unchanged", "passed": before["index"] == after["index"],
         "before": str(before["index"])[:60], "after": str(after["index"])[:60]},
    ]


def migrate(server: EmbeddedMilvus, target: str, overrides=None, flush: bool = True,
            remove_old: bool = False) -> dict:
    """Move a running embedded server to MQ ``target`` on the same data; returns the phase timings.

    ``flush=False`` skips step 2, to show what it is for. The old MQ folder is copied to
    ``backup/<mq>-<time>`` before it is removed (``remove_old``)."""
    check_mq(target)
    if target == server.mq:
        raise MigrationError(f"the server already runs {target}; choose the other MQ")
    if not server.running:
        raise MigrationError(f"the server in {server.base_dir} is not running; migrate starts from a live server")
    timings = {}
    t0 = time.perf_counter()
    if flush:
        with server.connection.client(timeout=600) as client:
            for name in client.list_collections():
                client.flush(name)  # waits until the segments are persisted
    timings["flush_s"] = time.perf_counter() - t0
    old_mq, old_stores = server.mq, server.mq_store_dirs
    t0 = time.perf_counter()
    timings["stop_method"] = server.stop()
    timings["stop_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    try:
        server.restart(mq=target, overrides=overrides)
    except ServerError as exc:
        raise MigrationError(f"restart with {target} failed: {exc}") from None
    timings["restart_s"] = time.perf_counter() - t0
    if remove_old:
        backup = server.base_dir / "backup" / f"{old_mq}-{time.strftime('%Y%m%dT%H%M%S')}"
        for store in (s for s in old_stores if s.exists()):
            shutil.copytree(store, backup / store.name)
            shutil.rmtree(store)
        timings["backup"] = str(backup.relative_to(server.base_dir))
    return timings


def load_collections(server: EmbeddedMilvus) -> list[str]:
    """Load every collection (and wait) so it can be read; returns their names."""
    with server.connection.client(timeout=600) as client:
        names = client.list_collections()
        for name in names:
            client.load(name)
    return names


def migrate_and_verify(server: EmbeddedMilvus, target: str, overrides=None, flush: bool = True,
                       remove_old: bool = False, k: int = 10, probes: int = 10) -> tuple[dict, list[dict]]:
    """Snapshot every collection, :func:`migrate`, reload, snapshot again and compare: (timings, checks),
    one check row per collection and property. Refuses a server with no collection."""
    names = load_collections(server)
    if not names:
        raise MigrationError(f"{server.base_dir} has no collection: there is nothing to migrate or verify")
    with server.connection.client(timeout=600) as client:
        queries = {n: np.random.default_rng(0).standard_normal((probes, client.dim(n)), dtype=np.float32)
                   for n in names}
        before = {n: snapshot(client, n, queries[n], k) for n in names}
    timings = migrate(server, target, overrides, flush=flush, remove_old=remove_old)
    load_collections(server)
    with server.connection.client(timeout=600) as client:
        checks = [{"collection": n, **check} for n in names
                  for check in compare(before[n], snapshot(client, n, queries[n], k))]
    return timings, checks


def server_folder_mq(folder: Path) -> str:
    """The MQ a server folder was last started with (from its ``configs/milvus.yaml``)."""
    import yaml

    config = folder / "configs" / "milvus.yaml"
    if not config.exists():
        raise MigrationError(f"{folder} is not a Milvus folder that mqbench started (no configs/milvus.yaml)")
    return yaml.safe_load(config.read_text())["mq"]["type"]
