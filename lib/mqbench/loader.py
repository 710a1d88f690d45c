"""Parallel, resumable batched insert: batches sized in bytes, several client processes, a checkpoint.

The parent reads the source once, in order, and hands batches to ``workers`` client processes (each
with its own connection). The checkpoint (JSON, replaced atomically after every change) records the
collection's id, the batch size, the batches acknowledged and the batches in flight. After an
interruption — Ctrl-C, a crash, a kernel restart — :func:`load` with the same checkpoint skips the
acknowledged batches and deletes, then re-inserts, the ones that were in flight (they may or may not
have landed), so no id is inserted twice and none is missing.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import queue
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from . import results
from .ingest import ID_FIELD, IngestError, create_collection, rows_of, target
from .server import Connection, set_pdeathsig


@dataclass
class Checkpoint:
    path: Path
    collection_id: int
    n: int
    batch_rows: int
    done: set = field(default_factory=set)
    inflight: set = field(default_factory=set)

    def save(self) -> None:
        state = {**asdict(self), "path": None, "done": sorted(self.done), "inflight": sorted(self.inflight)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        results.atomic_write_text(self.path, json.dumps(state))

    @classmethod
    def read(cls, path: Path) -> "Checkpoint | None":
        if not path.exists():
            return None
        state = json.loads(path.read_text())
        return cls(path, state["collection_id"], state["n"], state["batch_rows"], set(state["done"]),
                   set(state["inflight"]))


def batch_rows_for(dim: int, batch_mb: float) -> int:
    """Rows per insert request so that one request carries about ``batch_mb`` MiB of vectors and ids."""
    if batch_mb <= 0:
        raise IngestError(f"batch_mb must be > 0, got {batch_mb}")
    return max(1, int(batch_mb * 2**20 // (dim * 4 + 16)))


def open_collection(client, name: str, dim: int, metric: str, checkpoint: Path | None = None,
                    attr: bool = True) -> Checkpoint | None:
    """The checkpoint to resume from if it belongs to the existing collection ``name``; otherwise a fresh
    collection (an old one dropped) and no checkpoint."""
    old = Checkpoint.read(Path(checkpoint)) if checkpoint else None
    if old is not None and client.has_collection(name) and \
            client.describe_collection(name).get("collection_id") == old.collection_id:
        return old
    create_collection(client, name, dim, metric, attr=attr)
    return None


def _insert_worker(conn: Connection, name: str, with_attr: bool, timeout_s: float, tasks, acks) -> None:
    """A loader process: insert each batch it is given; acknowledge it or report the error."""
    set_pdeathsig()  # a killed loader leaves no orphan inserting behind a later resume
    client = conn.client()
    try:
        while (task := tasks.get()) is not None:
            b, ids, block = task
            try:
                count = int(client.insert(name, rows_of(ids, block, with_attr), timeout=timeout_s)["insert_count"])
                acks.put((b, count, len(ids), ""))
            except Exception as exc:
                acks.put((b, 0, len(ids), f"{type(exc).__name__}: {exc}"[:400]))
    finally:
        client.close()


@dataclass
class LoadStats:
    rows: int                 # rows acknowledged in this call
    batches: int
    batch_rows: int
    workers: int
    resumed_batches: int = 0  # acknowledged before an interruption, skipped
    redone_batches: int = 0   # in flight at the interruption: deleted and inserted again
    seconds: float = 0.0

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("nan")


def load(conn: Connection, name: str, data, n: int | None = None, batch_mb: float = 4.0, workers: int = 2,
         checkpoint: Path | None = None, resume: Checkpoint | None = None, guard=None, progress: bool = True,
         timeout_s: float = 300) -> LoadStats:
    """Insert the first ``n`` rows of ``data`` into the existing collection ``name``.

    ``checkpoint``: a file to record progress in (``resume``: what :func:`open_collection` returned
    for it). ``guard()`` runs after every acknowledged batch and may raise to stop the load.
    """
    if workers < 1:
        raise IngestError(f"workers must be >= 1, got {workers}")
    client = conn.client()
    try:
        into = target(client, name, data)
    finally:
        client.close()
    source, with_attr = into.source, into.with_attr
    total = source.check_limit(n)
    batch_rows = batch_rows_for(into.dim, batch_mb)
    if resume is not None and (resume.n, resume.batch_rows) != (total, batch_rows):
        raise IngestError(f"checkpoint {resume.path} was made for n={resume.n}, {resume.batch_rows} rows per batch; "
                          f"this load has n={total}, {batch_rows}: resume with the same n and batch_mb")
    state = resume or (Checkpoint(Path(checkpoint), into.collection_id, total, batch_rows) if checkpoint else None)
    done = set(state.done) if state else set()
    redo = set(state.inflight) if state else set()
    stats = LoadStats(0, -(-total // batch_rows), batch_rows, workers, len(done), len(redo))
    if redo:
        _delete_batches(conn, name, source, batch_rows, total, redo)
        state.inflight.clear()
        state.save()
    ctx = mp.get_context("spawn")
    tasks, acks = ctx.Queue(maxsize=2 * workers), ctx.Queue()
    procs = [ctx.Process(target=_insert_worker, args=(conn, name, with_attr, timeout_s, tasks, acks), daemon=True)
             for _ in range(workers)]
    for p in procs:
        p.start()
    pending = 0
    t0 = time.perf_counter()
    bar = tqdm(total=total, initial=min(total, len(done) * batch_rows), unit="rows", desc=f"insert {name}",
               disable=not progress, mininterval=1.0, smoothing=0.1)

    def take_ack(block: bool) -> bool:
        nonlocal pending
        try:
            b, count, expected, error = acks.get(timeout=timeout_s + 60 if block else 0.001)
        except queue.Empty:
            if block:
                raise IngestError(f"no insert acknowledged in {timeout_s + 60:.0f} s; "
                                  f"loader processes alive: {[p.is_alive() for p in procs]}") from None
            return False
        pending -= 1
        if error or count != expected:
            raise IngestError(f"batch {b} of {name!r} failed: " + (error or f"{count} of {expected} rows acknowledged"))
        stats.rows += count
        bar.update(count)
        if state:
            state.inflight.discard(b)
            state.done.add(b)
            state.save()
        if guard is not None:
            guard()
        return True

    try:
        for b, (ids, block) in enumerate(source.chunks(batch_rows, limit=total)):
            if b in done:
                continue
            if state:
                state.inflight.add(b)
                state.save()
            while True:
                try:
                    tasks.put((b, ids, block), timeout=0.05)
                    break
                except queue.Full:
                    while take_ack(block=False):
                        pass
                    if not any(p.is_alive() for p in procs):
                        raise IngestError("every loader process exited")
            pending += 1
            while take_ack(block=False):
                pass
        while pending:
            take_ack(block=True)
    finally:
        bar.close()
        for _ in procs:
            try:
                tasks.put(None, timeout=1)
            except queue.Full:
                break
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    stats.seconds = time.perf_counter() - t0
    return stats


def _delete_batches(conn: Connection, name: str, source, batch_rows: int, total: int, batches: set) -> None:
    """Delete every id of ``batches`` (those in flight when a load was interrupted)."""
    client = conn.client()
    try:
        for b, (ids, _) in enumerate(source.chunks(batch_rows, limit=total)):
            if b in batches:
                client.delete(name, filter=f"{ID_FIELD} in {ids.tolist()}")
    finally:
        client.close()
