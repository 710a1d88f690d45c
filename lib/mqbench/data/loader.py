"""Parallel, resumable batched insert: batches sized in bytes, several client processes, a checkpoint.

The parent reads the source once, in order, and hands batches to ``workers`` client processes (each
with its own connection, inserting through :meth:`mqbench.milvus.client.Client.insert`). The clock starts
when every loader has connected, so process start-up is not counted as insert time. The checkpoint
(JSON, replaced atomically after every change) records the collection's id, the batch size, the
batches acknowledged and the batches in flight. After an interruption — Ctrl-C, a crash, a kernel
restart — :func:`load` with the same checkpoint skips the acknowledged batches and deletes, then
re-inserts, the ones that were in flight (they may or may not have landed), so no id is inserted
twice and none is missing. Every acknowledgement adds a point to the insert curve (time, rows).
"""
from __future__ import annotations

import json
import multiprocessing as mp
import queue
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
import psutil

from mqbench.core import progress, results
from mqbench.core.errors import IngestError
from mqbench.core.room import dir_bytes
from mqbench.data.ingest import target
from mqbench.milvus.processes import set_pdeathsig
from mqbench.milvus.server import Connection


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


def open_collection(client, name: str, dim: int, checkpoint: Path | None = None,
                    attr: bool = True) -> Checkpoint | None:
    """The checkpoint to resume from if it belongs to the existing collection ``name``; otherwise a fresh
    collection (an old one dropped) and no checkpoint."""
    old = Checkpoint.read(Path(checkpoint)) if checkpoint else None
    if old is not None and client.has_collection(name) and \
            client.describe(name).get("collection_id") == old.collection_id:
        return old
    client.create_collection(name, dim, attr=attr)
    return None


def _insert_worker(conn: Connection, name: str, timeout_s: float, tasks, acks) -> None:
    """A loader process: connect, say so, then insert each batch it is given; acknowledge it or report
    the error."""
    set_pdeathsig()  # a killed loader leaves no orphan inserting behind a later resume
    try:
        client = conn.client()
    except Exception as exc:
        acks.put((-1, 0, 0, f"connect: {type(exc).__name__}: {exc}"[:400]))
        return
    acks.put((-1, 0, 0, ""))  # ready
    try:
        while (task := tasks.get()) is not None:
            b, ids, block = task
            try:
                acks.put((b, client.insert(name, ids, block, timeout_s=timeout_s), len(ids), ""))
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
    startup_s: float = 0.0    # starting and connecting the loader processes (not in ``seconds``)
    seconds: float = 0.0      # from every loader ready to the last acknowledgement
    curve: list = field(default_factory=list)  # (elapsed_s, rows acknowledged, MQ bytes or None)
    loader_cpu_s: float = float("nan")  # CPU time of the loader processes up to the last acknowledgement

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("nan")

    def curve_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.curve, columns=["elapsed_s", "rows_acked", "mq_storage_bytes"])


class _Loaders:
    """``workers`` loader processes; entering waits until every one has connected."""

    def __init__(self, conn: Connection, name: str, workers: int, timeout_s: float):
        ctx = mp.get_context("spawn")
        self.timeout_s = timeout_s
        self.tasks, self.acks = ctx.Queue(maxsize=2 * workers), ctx.Queue()
        self.procs = [ctx.Process(target=_insert_worker, args=(conn, name, timeout_s, self.tasks, self.acks),
                                  daemon=True) for _ in range(workers)]

    def __enter__(self) -> "_Loaders":
        for p in self.procs:
            p.start()
        try:
            for _ in self.procs:
                _, _, _, error = self.get(block=True, timeout_s=180)
                if error:
                    raise IngestError(f"a loader process could not connect: {error}")
        except BaseException:
            self.__exit__()
            raise
        return self

    def get(self, block: bool, timeout_s: float | None = None):
        try:
            return self.acks.get(timeout=(timeout_s or self.timeout_s + 60) if block else 0.001)
        except queue.Empty:
            if block:
                raise IngestError(f"no insert acknowledged in {timeout_s or self.timeout_s + 60:.0f} s; loader "
                                  f"processes alive: {[p.is_alive() for p in self.procs]}") from None
            return None

    def cpu_s(self) -> float:
        """CPU seconds the loader processes have used so far (NaN if one cannot be read)."""
        try:
            return sum(sum(psutil.Process(p.pid).cpu_times()[:2]) for p in self.procs)
        except psutil.Error:
            return float("nan")

    def put(self, task, drain) -> None:
        """Queue ``task``; while the queue is full, ``drain()`` acknowledgements."""
        while True:
            try:
                self.tasks.put(task, timeout=0.05)
                return
            except queue.Full:
                drain()
                if not any(p.is_alive() for p in self.procs):
                    raise IngestError("every loader process exited") from None

    def __exit__(self, *exc) -> None:
        for _ in self.procs:
            try:
                self.tasks.put(None, timeout=1)
            except queue.Full:
                break
        for p in self.procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()


def _resume_state(conn, name, source, total, batch_rows, checkpoint, resume, collection_id) -> Checkpoint | None:
    """The checkpoint of this load (a resumed one after deleting its in-flight batches), or None."""
    if resume is not None and (resume.n, resume.batch_rows) != (total, batch_rows):
        raise IngestError(f"checkpoint {resume.path} was made for n={resume.n}, {resume.batch_rows} rows per batch; "
                          f"this load has n={total}, {batch_rows}: resume with the same n and batch_mb")
    state = resume or (Checkpoint(Path(checkpoint), collection_id, total, batch_rows) if checkpoint else None)
    if state and state.inflight:
        _delete_batches(conn, name, source, batch_rows, total, state.inflight)
        state.inflight.clear()
        state.save()
    return state


def load(conn: Connection, name: str, data, n: int | None = None, batch_mb: float = 4.0, workers: int = 2,
         checkpoint: Path | None = None, resume: Checkpoint | None = None, guard=None, store_dir=None,
         show_progress: bool = True, timeout_s: float = 300) -> LoadStats:
    """Insert the first ``n`` rows of ``data`` into the existing collection ``name``.

    ``checkpoint``: a file to record progress in (``resume``: what :func:`open_collection` returned
    for it). ``guard()`` runs after every acknowledged batch and may raise to stop the load;
    ``store_dir``: the MQ store, sampled into the insert curve about every 5 s.
    """
    if workers < 1:
        raise IngestError(f"workers must be >= 1, got {workers}")
    with conn.client() as client:
        into = target(client, name, data)
    total = into.source.check_limit(n)
    batch_rows = batch_rows_for(into.dim, batch_mb)
    redone = len(resume.inflight) if resume else 0
    state = _resume_state(conn, name, into.source, total, batch_rows, checkpoint, resume, into.collection_id)
    done = set(state.done) if state else set()
    stats = LoadStats(0, -(-total // batch_rows), batch_rows, workers, len(done), redone)
    t_start = time.perf_counter()
    with _Loaders(conn, name, workers, timeout_s) as pool, \
            progress.bar(total, f"insert {name}", unit="rows", initial=min(total, len(done) * batch_rows),
                         disable=not show_progress) as bar:
        t0 = time.perf_counter()
        stats.startup_s = t0 - t_start
        _feed(pool, into.source, batch_rows, total, done, state, stats, bar, guard, store_dir, t0)
        stats.seconds = time.perf_counter() - t0
        stats.loader_cpu_s = pool.cpu_s()
    return stats


def _feed(pool, source, batch_rows, total, done, state, stats, bar, guard, store_dir, t0) -> None:
    """Hand every batch not yet ``done`` to the loaders and take their acknowledgements."""
    pending = 0
    last_store = [float("-inf")]

    def take(block: bool) -> bool:
        nonlocal pending
        ack = pool.get(block)
        if ack is None:
            return False
        b, count, expected, error = ack
        pending -= 1
        if error or count != expected:
            raise IngestError(f"batch {b} failed: " + (error or f"{count} of {expected} rows acknowledged"))
        stats.rows += count
        bar.update(count)
        now = time.perf_counter() - t0
        stored = None
        if store_dir is not None and now - last_store[0] >= 5:
            stored, last_store[0] = dir_bytes(store_dir), now
        stats.curve.append((now, stats.rows, stored))
        if state:
            state.inflight.discard(b)
            state.done.add(b)
            state.save()
        if guard is not None:
            guard()
        return True

    def drain() -> None:
        while take(block=False):
            pass

    for b, (ids, block) in enumerate(source.chunks(batch_rows, limit=total)):
        if b in done:
            continue
        if state:
            state.inflight.add(b)
            state.save()
        pool.put((b, ids, block), drain)
        pending += 1
        drain()
    while pending:
        take(block=True)


def _delete_batches(conn: Connection, name: str, source, batch_rows: int, total: int, batches: set) -> None:
    """Delete every id of ``batches`` (those in flight when a load was interrupted)."""
    with conn.client() as client:
        for b, (ids, _) in enumerate(source.chunks(batch_rows, limit=total)):
            if b in batches:
                client.delete(name, ids)
