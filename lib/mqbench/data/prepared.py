"""Prepared insert: every request built and serialized before the clock starts, then sent as bytes by a few
threads of this process, so the insert phase times the server's write path and not the loader.

Measured at 768-d (50,000 rows, 4 MiB requests, 2 senders, one embedded server on 2 cores): the streamed loader of
:mod:`mqbench.data.loader` used 20 CPU-s of the host's 42 to reach 2,400 rows/s, the server 3–4; sending prepared
requests reached 16,000–17,600 rows/s with 0.2 client CPU-s against the server's 5. Preparing costs about 4 s per
150 MiB and is not part of the insert phase; the requests are held in memory, so a load larger than
:data:`MAX_PREPARED_BYTES` is refused (use the streamed loader there).
"""
from __future__ import annotations

import concurrent.futures as cf
import time
from dataclasses import dataclass, field

import pandas as pd

from mqbench.core import progress
from mqbench.core.errors import IngestError
from mqbench.data.ingest import target
from mqbench.data.loader import batch_rows_for
from mqbench.milvus.server import Connection

MAX_PREPARED_BYTES = 4 * 2**30


@dataclass
class Prepared:
    name: str
    requests: list[bytes]
    rows: list[int]
    batch_rows: int
    prepare_s: float

    @property
    def bytes(self) -> int:
        return sum(map(len, self.requests))


@dataclass
class SendStats:
    rows: int
    seconds: float
    senders: int
    curve: list = field(default_factory=list)  # (elapsed_s, rows acknowledged)

    def curve_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.curve, columns=["elapsed_s", "rows_acked"])


def prepare(conn: Connection, name: str, data, n: int, batch_mb: float = 4.0) -> Prepared:
    """The insert requests of the first ``n`` rows of ``data`` into the existing collection ``name``, serialized."""
    t0 = time.perf_counter()
    with conn.client() as client:
        into = target(client, name, data)
        total = into.source.check_limit(n)
        need = total * (4 * into.dim + 16)
        if need > MAX_PREPARED_BYTES:
            raise IngestError(f"a prepared insert of {total:,} rows of dim {into.dim} would hold {need / 2**30:.1f} GiB "
                              f"of requests in memory (at most {MAX_PREPARED_BYTES / 2**30:.0f} GiB): use "
                              "load_method insert (streamed) for a load this large")
        batch_rows = batch_rows_for(into.dim, batch_mb)
        requests, rows = [], []
        for ids, block in into.source.chunks(batch_rows, limit=total):
            requests.append(client.prepare_insert(name, ids, block))
            rows.append(len(ids))
    return Prepared(name, requests, rows, batch_rows, time.perf_counter() - t0)


def send(conn: Connection, prepared: Prepared, senders: int = 2, timeout_s: float = 120,
         show_progress: bool = True) -> SendStats:
    """Send every prepared request, ``senders`` at a time, each on its own connection; connecting happens before
    the clock. Raises :class:`IngestError` on the first request the server does not acknowledge in full."""
    if senders < 1:
        raise IngestError(f"senders must be >= 1, got {senders}")
    clients = [conn.client() for _ in range(senders)]
    stats = SendStats(0, 0.0, senders)
    try:
        with progress.bar(sum(prepared.rows), f"insert {prepared.name} (prepared)", unit="rows",
                          disable=not show_progress) as bar, cf.ThreadPoolExecutor(senders) as pool:
            t0 = time.perf_counter()
            jobs = {pool.submit(clients[i % senders].send_prepared, prepared.name, request, timeout_s): rows
                    for i, (request, rows) in enumerate(zip(prepared.requests, prepared.rows))}
            for job in cf.as_completed(jobs):
                count = job.result()
                if count != jobs[job]:
                    raise IngestError(f"a prepared insert request was acknowledged for {count} of {jobs[job]} rows")
                stats.rows += count
                stats.curve.append((time.perf_counter() - t0, stats.rows))
                bar.update(count)
            stats.seconds = time.perf_counter() - t0
    finally:
        for client in clients:
            client.close()
    return stats
