"""The seed's RocksMQ→NATS migration (or back), automated and verified.

Procedure: stop writes → ``flush`` every collection and wait → stop Milvus → set ``mq.type`` (and
``natsmq.*``/``rocksmq.*`` options) → restart on the same data → back up, then optionally remove, the
old MQ's folder. Verified by row counts, a checksum over sorted (id, vector), identical top-k for a
fixed query set, and unchanged schema and index. The old MQ folder is never touched before the flush
is confirmed, and never deleted without a backup.
"""
from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

import numpy as np

from .ingest import ID_FIELD, VECTOR_FIELD, count_rows
from .overrides import parse_overrides
from .server import EmbeddedMilvus, MilvusServerError, check_mq

PAGE = 10_000


class MigrationError(RuntimeError):
    """A migration that cannot start (bad target, running server) or whose restart failed."""


def snapshot(client, collection: str, queries: np.ndarray, k: int = 10) -> dict:
    """What must survive a migration: count, checksum of sorted (id, vector), top-k ids, schema, index."""
    count = count_rows(client, collection)
    digest, seen = hashlib.sha256(), 0
    condition = f"{ID_FIELD} >= {-(2 ** 63 - 1)}"  # Milvus cannot parse -2**63 itself
    while True:
        page = client.query(collection, filter=condition, output_fields=[ID_FIELD, VECTOR_FIELD],
                            limit=PAGE, consistency_level="Strong")
        if not page:
            break
        page.sort(key=lambda row: row[ID_FIELD])
        for row in page:
            digest.update(np.int64(row[ID_FIELD]).tobytes())
            digest.update(np.asarray(row[VECTOR_FIELD], dtype=np.float32).tobytes())
        seen += len(page)
        condition = f"{ID_FIELD} > {page[-1][ID_FIELD]}"
    hits = client.search(collection, data=queries.tolist(), limit=k, anns_field=VECTOR_FIELD,
                         consistency_level="Strong")
    described = client.describe_collection(collection)
    schema = [(f["name"], str(f["type"]), f.get("params", {}), f.get("is_primary", False))
              for f in described["fields"]]
    index = {}
    for name in client.list_indexes(collection):
        info = client.describe_index(collection, name)
        index[name] = {key: info.get(key) for key in ("index_type", "metric_type", "field_name", "M",
                                                      "efConstruction", "nlist", "params")}
    return {"count": count, "rows_read": seen, "checksum": digest.hexdigest(),
            "topk": [[hit["id"] for hit in q] for q in hits], "schema": schema, "index": index}


def compare(before: dict, after: dict) -> list[dict]:
    """One check per property: passed or not, with the numbers."""
    same_topk = sum(a == b for a, b in zip(before["topk"], after["topk"]))
    return [
        {"check": "row count", "passed": before["count"] == after["count"],
         "before": before["count"], "after": after["count"]},
        {"check": "checksum of sorted (id, vector)", "passed": before["checksum"] == after["checksum"],
         "before": before["checksum"][:16], "after": after["checksum"][:16]},
        {"check": "identical top-k", "passed": same_topk == len(before["topk"]),
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
    client = server.connection.client(timeout=600)
    t0 = time.perf_counter()
    if flush:
        for name in client.list_collections():
            client.flush(name)  # waits until the segments are persisted
    timings["flush_s"] = time.perf_counter() - t0
    client.close()
    old_mq, old_store = server.mq, server.mq_store_dir
    t0 = time.perf_counter()
    timings["stop_method"] = server.stop()
    timings["stop_s"] = time.perf_counter() - t0
    server.mq = target
    server.overrides = {**{k: v for k, v in server.overrides.items() if k != "mq.type"},
                        **parse_overrides(overrides)}
    t0 = time.perf_counter()
    try:
        server.start()
    except MilvusServerError as exc:
        raise MigrationError(f"restart with {target} failed: {exc}") from None
    timings["restart_s"] = time.perf_counter() - t0
    if remove_old and old_store.exists():
        backup = server.base_dir / "backup" / f"{old_mq}-{time.strftime('%Y%m%dT%H%M%S')}"
        shutil.copytree(old_store, backup)
        shutil.rmtree(old_store)
        timings["backup"] = str(backup.relative_to(server.base_dir))
    return timings


def load_collections(server: EmbeddedMilvus) -> None:
    """After a restart, load every collection again (and wait) so it can be read."""
    client = server.connection.client(timeout=600)
    for name in client.list_collections():
        client.load_collection(name)
    client.close()


def server_folder_mq(folder: Path) -> str:
    """The MQ a server folder was last started with (from its ``configs/milvus.yaml``)."""
    import yaml

    config = folder / "configs" / "milvus.yaml"
    if not config.exists():
        raise MigrationError(f"{folder} is not a Milvus folder that mqbench started (no configs/milvus.yaml)")
    return yaml.safe_load(config.read_text())["mq"]["type"]
