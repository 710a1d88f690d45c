"""Request workloads: serial latency and fixed-duration concurrent RPS, one OS process per client.

Every request is timed with ``time.perf_counter_ns`` (CLOCK_MONOTONIC, shared by all
processes on Linux), and kept raw: the summary is recomputed from these rows.
"""
from __future__ import annotations

import multiprocessing as mp
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .ingest import ID_FIELD, VECTOR_FIELD
from .resources import client_cpu_s
from .server import Connection

CONSISTENCY = ("Strong", "Bounded", "Session", "Eventually")
RAW_COLUMNS = ["worker", "seq", "start_ns", "latency_ns", "ok", "error", "warmup"]


@dataclass
class Spec:
    """What one request does. ``kind`` is ``search`` (ANN top-k) or ``query`` (primary-key lookup)."""

    kind: str
    collection: str
    consistency: str = "Bounded"
    queries: np.ndarray | None = None      # search: query vectors, cycled
    k: int = 10
    nq: int = 1                            # vectors per search request
    search_params: dict = field(default_factory=dict)
    n: int = 0                             # query: ids are drawn from [0, n)
    ids_per_query: int = 1
    seed: int = 0

    def __post_init__(self):
        if self.kind not in ("search", "query"):
            raise ValueError(f"unknown request kind {self.kind!r}: choose search or query")
        if self.consistency not in CONSISTENCY:
            raise ValueError(f"unknown consistency {self.consistency!r}: choose one of {', '.join(CONSISTENCY)}")
        if self.kind == "search" and (self.queries is None or len(self.queries) == 0):
            raise ValueError("a search spec needs query vectors")
        if self.kind == "query" and self.n < 1:
            raise ValueError("a query spec needs n >= 1 (the id range)")


class Requester:
    """Issues request ``i`` of a spec on one client; search results can be kept for recall."""

    def __init__(self, client, spec: Spec, stream: int = 0):
        self.client, self.spec = client, spec
        self.rng = np.random.default_rng([spec.seed, stream])

    def __call__(self, i: int):
        s = self.spec
        if s.kind == "search":
            rows = [(i * s.nq + j) % len(s.queries) for j in range(s.nq)]
            return self.client.search(
                s.collection, data=s.queries[rows].tolist(), limit=s.k, anns_field=VECTOR_FIELD,
                search_params={"params": s.search_params}, consistency_level=s.consistency)
        ids = self.rng.integers(0, s.n, size=s.ids_per_query).tolist()
        return self.client.query(s.collection, filter=f"{ID_FIELD} in {ids}", output_fields=[ID_FIELD],
                                 consistency_level=s.consistency)


@dataclass
class Result:
    """Raw rows of one measurement plus its window and client CPU."""

    raw: pd.DataFrame
    window_s: float
    concurrency: int
    client_cpu_s: float
    found_ids: list = field(default_factory=list)  # serial search: ids per query, for recall
    found_dist: list = field(default_factory=list)  # and their distances (ties count as hits)

    @property
    def measured(self) -> pd.DataFrame:
        return self.raw[~self.raw["warmup"]]

    def completed_in_window(self) -> int:
        m = self.measured
        return int(m["ok"].sum()) if self.concurrency == 0 else int((m["ok"] & m["in_window"]).sum())


def _timed(request: Requester, i: int):
    t0 = time.perf_counter_ns()
    try:
        out = request(i)
        return t0, time.perf_counter_ns() - t0, True, "", out
    except Exception as exc:  # counted as an error row, never dropped
        return t0, time.perf_counter_ns() - t0, False, f"{type(exc).__name__}: {exc}"[:300], None


def serial(conn: Connection, spec: Spec, requests: int, warmup: int = 10) -> Result:
    """``warmup`` untimed-for-stats requests, then ``requests`` back to back on one client."""
    if requests < 1 or warmup < 0:
        raise ValueError(f"serial needs requests >= 1 and warmup >= 0 (got {requests}, {warmup})")
    client = conn.client()
    req = Requester(client, spec)
    rows, found, dist = [], [], []
    cpu0 = client_cpu_s()
    for seq in range(warmup + requests):
        i = seq - warmup  # measured request i uses query i, so the first pass gives recall
        t0, lat, ok, err, out = _timed(req, i if i >= 0 else seq)
        rows.append((0, seq, t0, lat, ok, err, i < 0))
        if i >= 0 and spec.kind == "search" and i < len(spec.queries) and spec.nq == 1:
            found.append([hit["id"] for hit in out[0]] if ok else [])
            dist.append([hit["distance"] for hit in out[0]] if ok else [])
    client.close()
    raw = pd.DataFrame(rows, columns=RAW_COLUMNS)
    measured = raw[~raw["warmup"]]
    window = (measured["start_ns"].iloc[-1] + measured["latency_ns"].iloc[-1] - measured["start_ns"].iloc[0]) / 1e9
    return Result(raw, window, 0, client_cpu_s() - cpu0, found, dist)


def _worker(conn: Connection, spec: Spec, worker: int, barrier, start_at, warmup_s: float,
            duration_s: float, out) -> None:
    """One client process: connect, wait on the barrier, run until the window closes."""
    try:
        client = conn.client()
        req = Requester(client, spec, stream=worker + 1)
        req(0)  # the connection is made and used before the window opens
        barrier.wait(timeout=120)
        t_start = start_at.value
        window0 = t_start + int(warmup_s * 1e9)
        window1 = window0 + int(duration_s * 1e9)
        while time.perf_counter_ns() < t_start:
            time.sleep(0.0005)
        rows, seq, cpu0, cpu1 = [], 0, None, None
        while True:
            now = time.perf_counter_ns()
            if now >= window1:
                break
            if cpu0 is None and now >= window0:
                cpu0 = client_cpu_s()
            t0, lat, ok, err, _ = _timed(req, seq + worker * 1_000_003)
            rows.append((worker, seq, t0, lat, ok, err, t0 < window0))
            seq += 1
        cpu1 = client_cpu_s()
        client.close()
        out.put((worker, rows, cpu1 - (cpu0 if cpu0 is not None else cpu1), ""))
    except BaseException as exc:  # report, never hang the parent
        barrier.abort()
        out.put((worker, [], 0.0, f"{type(exc).__name__}: {exc}"))


def concurrent(conn: Connection, spec: Spec, concurrency: int, duration_s: float,
               warmup_s: float = 1.0) -> Result:
    """``concurrency`` client processes released together; each runs warm-up then a fixed window.

    A request belongs to the window if it starts inside it; RPS counts those that
    also finish inside it, divided by ``duration_s``.
    """
    if concurrency < 1 or duration_s <= 0 or warmup_s < 0:
        raise ValueError(f"concurrent needs concurrency >= 1, duration_s > 0, warmup_s >= 0 "
                         f"(got {concurrency}, {duration_s}, {warmup_s})")
    ctx = mp.get_context("spawn")  # fork is unsafe with gRPC threads in the parent
    barrier = ctx.Barrier(concurrency + 1)
    start_at = ctx.Value("q", 0)
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(conn, spec, w, barrier, start_at, warmup_s, duration_s, out),
                         daemon=True) for w in range(concurrency)]
    for p in procs:
        p.start()
    try:
        start_at.value = time.perf_counter_ns() + 100_000_000  # all workers begin 100 ms after release
        barrier.wait(timeout=300)
        results = [out.get(timeout=warmup_s + duration_s + 300) for _ in procs]
    except Exception as exc:
        raise RuntimeError(f"concurrent clients failed to start or finish: {type(exc).__name__}: {exc}") from exc
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    errors = [msg for *_, msg in results if msg]
    if errors:
        raise RuntimeError(f"{len(errors)} of {concurrency} client processes failed: {errors[0]}")
    rows = [row for _, worker_rows, _, _ in results for row in worker_rows]
    raw = pd.DataFrame(rows, columns=RAW_COLUMNS)
    window0 = start_at.value + int(warmup_s * 1e9)
    window1 = window0 + int(duration_s * 1e9)
    raw["in_window"] = (raw["start_ns"] + raw["latency_ns"]) <= window1
    return Result(raw, duration_s, concurrency, sum(cpu for _, _, cpu, _ in results))
