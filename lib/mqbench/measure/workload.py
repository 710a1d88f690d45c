"""Request workloads: serial latency, closed-loop concurrency and open-loop arrival rates.

Concurrent load comes from a :class:`ClientPool` of OS processes, each connected once to every
server of the comparison; every measurement arms the clients (each sends one request first), then
releases them together at one instant on ``CLOCK_MONOTONIC`` (shared by all processes on Linux).
Every request is kept raw — scheduled time, start, latency, service time, ok/error — and the
summary is recomputed from these rows (:mod:`mqbench.stats.metrics`).
"""
from __future__ import annotations

import multiprocessing as mp
import re
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mqbench.core.errors import ParameterError
from mqbench.core.schema import READ_OPS, Consistency
from mqbench.measure.resources import client_cpu_s
from mqbench.milvus.client import ATTR_FIELD, ID_FIELD, VECTOR_FIELD, PreparedSearch
from mqbench.milvus.processes import set_pdeathsig
from mqbench.milvus.server import Connection
from mqbench.stats import design

CONSISTENCY = tuple(Consistency)
KINDS = READ_OPS
SCALAR_FIELDS = (ID_FIELD, ATTR_FIELD)
ARRIVALS = ("constant", "poisson")
RAW_COLUMNS = ["worker", "seq", "scheduled_ns", "start_ns", "latency_ns", "service_ns", "ok", "error", "warmup",
               "censored"]
_EXPR_WORDS = {"and", "or", "not", "in", "like", "true", "false", "exists"}
NOT_SENT = "not sent: every client busy past the drain deadline"


def check_filter(expr: str, parameter: str = "filter") -> str:
    """``expr`` unchanged if every field it names exists in mqbench's schema; else an error naming it."""
    names = {w for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", re.sub(r"(['\"]).*?\1", "", expr))
             if w.lower() not in _EXPR_WORDS}
    unknown = sorted(names - set(SCALAR_FIELDS))
    if unknown:
        raise ParameterError(f"{parameter} {expr!r} names field(s) {unknown} that the collection does not have; "
                             f"it has {list(SCALAR_FIELDS)} (attr is an int in [0, 10000))")
    return expr


@dataclass
class Spec:
    """What one request does.

    ``kind``: ``search`` (ANN top-``k`` of ``nq`` vectors, optional scalar ``filter``),
    ``query`` (primary-key lookup of ``ids_per_query`` random ids in [0, ``n``)),
    ``filter_query`` (rows matching ``filter``, at most ``limit``), or ``count`` (``count(*)``,
    optionally of rows matching ``filter``).
    """

    kind: str
    collection: str
    consistency: str = "Bounded"
    queries: np.ndarray | None = None      # search: query vectors, cycled
    k: int = 10
    nq: int = 1
    search_params: dict = field(default_factory=dict)
    filter: str = ""
    output_fields: list = field(default_factory=list)
    limit: int = 100                       # filter_query: rows per request
    n: int = 0                             # query: ids are drawn from [0, n)
    ids_per_query: int = 1
    seed: int = 0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ParameterError(f"unknown request kind {self.kind!r}: choose one of {', '.join(KINDS)}")
        if self.consistency not in CONSISTENCY:
            raise ParameterError(f"unknown consistency {self.consistency!r}: choose one of {', '.join(CONSISTENCY)}")
        if self.kind == "search" and (self.queries is None or len(self.queries) == 0):
            raise ParameterError("a search spec needs query vectors")
        if self.kind == "query" and self.n < 1:
            raise ParameterError("a query spec needs n >= 1 (the id range)")
        if self.kind == "filter_query" and not self.filter:
            raise ParameterError("a filter_query spec needs a filter, e.g. 'attr < 100'")
        if self.k < 1 or self.nq < 1 or self.limit < 1 or self.ids_per_query < 1:
            raise ParameterError(f"k, nq, limit and ids_per_query must be >= 1 (got {self.k}, {self.nq}, "
                                 f"{self.limit}, {self.ids_per_query})")
        check_filter(self.filter)
        unknown = sorted(set(self.output_fields) - set(SCALAR_FIELDS) - {VECTOR_FIELD})
        if unknown:
            raise ParameterError(f"output_fields {unknown} do not exist; the collection has "
                                 f"{[*SCALAR_FIELDS, VECTOR_FIELD]}")


class Requester:
    """Issues request ``i`` of a spec on one client; returns what Milvus answered."""

    def __init__(self, client, spec: Spec, stream: int = 0):
        self.client, self.spec = client, spec
        self.rng = np.random.default_rng([spec.seed, stream])
        self.search = client.prepare_search(spec.collection, spec.queries, spec.k, spec.consistency,
                                            spec.search_params, spec.nq, spec.filter, spec.output_fields) \
            if spec.kind == "search" else None

    def __call__(self, i: int):
        s = self.spec
        if self.search is not None:
            return self.search(i)
        if s.kind == "query":
            ids = self.rng.integers(0, s.n, size=s.ids_per_query).tolist()
            return self.client.query(s.collection, f"{ID_FIELD} in {ids}", s.output_fields, consistency=s.consistency)
        if s.kind == "filter_query":
            return self.client.query(s.collection, s.filter, s.output_fields, limit=s.limit, consistency=s.consistency)
        return self.client.count(s.collection, s.consistency, s.filter)


@dataclass
class Result:
    """Raw rows of one measurement, its window, the client CPU and the span it was measured over,
    and descriptive fields for the summary."""

    raw: pd.DataFrame
    window_s: float
    concurrency: int
    client_cpu_s: float
    client_span_s: float                             # wall time over which client_cpu_s was measured
    found_ids: list = field(default_factory=list)    # serial search: ids per query, for recall
    fields: dict = field(default_factory=dict)       # consistency_level; open loop: target_rps, arrivals, …

    @property
    def measured(self) -> pd.DataFrame:
        return self.raw[~self.raw["warmup"]]

    def completed_in_window(self) -> int:
        m = self.measured
        return int((m["ok"] & m["in_window"]).sum())


def _timed(request: Requester, i: int):
    t0 = time.perf_counter_ns()
    try:
        out = request(i)
        return t0, time.perf_counter_ns() - t0, True, "", out
    except Exception as exc:  # counted as an error row, never dropped
        return t0, time.perf_counter_ns() - t0, False, f"{type(exc).__name__}: {exc}"[:300], None


def serial(conn: Connection, spec: Spec, requests: int, warmup: int = 10, gap_s: float = 0.0,
           seed: int = 0) -> Result:
    """``warmup`` requests (recorded, excluded), then ``requests`` on one client: back to back, or with
    ``gap_s`` > 0 an exponential pause (that mean) before each, so requests land at random phases of
    anything periodic on the server (the time tick) instead of locking onto it."""
    return interleaved({"": conn}, spec, requests, warmup, gap_s, seed)[""]


def interleaved(conns: dict, spec: Spec, requests: int, warmup: int = 10, gap_s: float = 0.0,
                seed: int = 0) -> dict[str, Result]:
    """Serial requests on several servers (``conns``: label → Connection) taken in turns, request *i* on each
    before request *i+1*, the order reversed every other turn (A B, B A, …): host noise, even noise faster than
    a second, hits every server alike, so their latencies compare pairwise. One Result per label; request *i*
    uses query *i* on every server, so the first pass gives recall."""
    if requests < 1 or warmup < 0 or gap_s < 0:
        raise ParameterError(f"serial needs requests >= 1, warmup >= 0, gap_s >= 0 (got {requests}, {warmup}, "
                             f"{gap_s})")
    rng = np.random.default_rng([seed, 7])
    labels = list(conns)
    rows, found = {label: [] for label in labels}, {label: [] for label in labels}
    clients = {label: conn.client() for label, conn in conns.items()}
    try:
        reqs = {label: Requester(client, spec) for label, client in clients.items()}
        cpu0, t_begin = client_cpu_s(), time.perf_counter()
        for seq in range(warmup + requests):
            i = seq - warmup
            for label in (labels if seq % 2 == 0 else labels[::-1]):
                if gap_s:
                    time.sleep(rng.exponential(gap_s))
                t0, lat, ok, err, out = _timed(reqs[label], i if i >= 0 else seq)
                rows[label].append((0, seq, t0, t0, lat, lat, ok, err, i < 0, False))
                if i >= 0 and spec.kind == "search" and i < len(spec.queries) and spec.nq == 1:
                    found[label].append(PreparedSearch.first_hits(out)[0] if ok else [])
        cpu, span = (client_cpu_s() - cpu0) / len(labels), time.perf_counter() - t_begin
    finally:
        for client in clients.values():
            client.close()
    return {label: _serial_result(rows[label], cpu, span, found[label], spec) for label in labels}


def _serial_result(rows: list, cpu: float, span: float, found: list, spec: Spec) -> Result:
    raw = pd.DataFrame(rows, columns=RAW_COLUMNS).assign(in_window=True)
    measured = raw[~raw["warmup"]]
    window = (measured["start_ns"].iloc[-1] + measured["latency_ns"].iloc[-1] - measured["start_ns"].iloc[0]) / 1e9
    return Result(raw, window, 0, cpu, span, found, fields={"consistency_level": spec.consistency})


def arrival_offsets(rate: float, span_s: float, arrivals: str, seed: int = 0) -> np.ndarray:
    """Send times (ns after the start) of an open-loop schedule over ``span_s`` at ``rate`` per second."""
    if rate <= 0 or span_s <= 0:
        raise ParameterError(f"an open-loop schedule needs rate > 0 and a positive span (got {rate}, {span_s})")
    if arrivals not in ARRIVALS:
        raise ParameterError(f"unknown arrivals {arrivals!r}: choose constant or poisson")
    count = int(rate * span_s)
    if arrivals == "constant":
        offsets = np.arange(count) / rate
    else:
        rng = np.random.default_rng(seed)
        offsets = np.cumsum(rng.exponential(1 / rate, size=int(count * 1.2) + 50))
        offsets = offsets[offsets < span_s]
    return (offsets * 1e9).astype(np.int64)


def _run_closed(req: Requester, worker: int, window0: int, window1: int) -> list:
    """Back to back until ``window1``."""
    rows, seq = [], 0
    while time.perf_counter_ns() < window1:
        t0, lat, ok, err, _ = _timed(req, seq + worker * 1_000_003)
        rows.append((worker, seq, t0, t0, lat, lat, ok, err, t0 < window0, False))
        seq += 1
    return rows


def _run_sliced(reqs: dict, pattern: list, slot_ns: int, worker: int, t_start: int, window0: int,
                window1: int) -> list:
    """Back to back until ``window1``, each request sent to the server whose time slot it starts in: slot
    *s* (``slot_ns`` long, counted from ``t_start``) belongs to ``pattern[s % len(pattern)]``. Every client
    switches at the same instants, so the servers take turns under the same host conditions."""
    rows, seq = [], 0
    while (now := time.perf_counter_ns()) < window1:
        label = pattern[((now - t_start) // slot_ns) % len(pattern)]
        t0, lat, ok, err, _ = _timed(reqs[label], seq + worker * 1_000_003)
        rows.append((worker, seq, t0, t0, lat, lat, ok, err, t0 < window0, False, label))
        seq += 1
    return rows


def _run_open(req: Requester, worker: int, t_start: int, window0: int, offsets, drain_end: int, counter) -> list:
    """Take the next scheduled request from the queue shared by all clients, wait for its time, send it.

    One queue means a slow request delays no other: the next is sent by whichever client is free. A
    request no client could start by ``drain_end`` is recorded with latency ``drain_end − due`` (a lower
    bound, ``censored``), so the worst latencies under overload stay in the percentiles."""
    rows = []
    while True:
        with counter.get_lock():
            seq = counter.value
            counter.value += 1
        if seq >= len(offsets):
            return rows
        due = t_start + int(offsets[seq])
        wait = due - time.perf_counter_ns()
        if wait > 0:
            time.sleep(wait / 1e9)
        if time.perf_counter_ns() > drain_end:
            rows.append((worker, seq, due, -1, drain_end - due, -1, False, NOT_SENT, due < window0, True))
            continue
        t0, lat, ok, err, _ = _timed(req, seq * 7919 + worker)
        rows.append((worker, seq, due, t0, t0 + lat - due, lat, ok, err, due < window0, False))


def _client_process(conns: dict, worker: int, pipe, counter) -> None:
    """A pool member: connect once to every server, then serve ``run`` commands until ``stop``."""
    set_pdeathsig()
    clients = {}
    try:
        clients = {label: conn.client() for label, conn in conns.items()}
        pipe.send(("ready",))
        while (command := pipe.recv())[0] != "stop":
            _, target, spec, window, offsets = command
            sliced = isinstance(target, tuple)  # (pattern of labels, slot length in ns)
            reqs = {label: Requester(clients[label], spec, stream=worker + 1)
                    for label in (dict.fromkeys(target[0]) if sliced else [target])}
            for req in reqs.values():
                req(0)  # arm: the connection and the collection are used before the window opens
            pipe.send(("armed",))
            _, t_start = pipe.recv()
            window0, window1, drain_end = (t_start + int(s * 1e9) for s in window)
            while time.perf_counter_ns() < t_start:
                time.sleep(0.0002)
            cpu0 = client_cpu_s()
            if sliced:
                rows = _run_sliced(reqs, list(target[0]), target[1], worker, t_start, window0, window1)
            elif offsets is None:
                rows = _run_closed(reqs[target], worker, window0, window1)
            else:
                rows = _run_open(reqs[target], worker, t_start, window0, offsets, drain_end, counter)
            pipe.send(("done", rows, client_cpu_s() - cpu0, (time.perf_counter_ns() - t_start) / 1e9))
    except BaseException as exc:  # report, never hang the parent
        try:
            pipe.send(("error", f"{type(exc).__name__}: {exc}"))
        except Exception:
            pass
    finally:
        for client in clients.values():
            client.close()


class ClientPool:
    """``size`` client processes, each connected to every server in ``conns`` (a label → Connection
    mapping, or one Connection), reused across measurements.

    Use as a context manager; the processes are stopped (and killed if they do not stop) on exit.
    """

    def __init__(self, conns, size: int, start_timeout_s: float = 180):
        if size < 1:
            raise ParameterError(f"a client pool needs at least one process (got {size})")
        self.conns = conns if isinstance(conns, dict) else {"": conns}
        ctx = mp.get_context("spawn")  # fork is unsafe with gRPC threads in the parent
        self.counter = ctx.Value("q", 0)
        self.size, self.pipes, self.procs = size, [], []
        for w in range(size):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_client_process, args=(self.conns, w, child, self.counter), daemon=True)
            proc.start()
            child.close()
            self.pipes.append(parent)
            self.procs.append(proc)
        try:
            self._gather(self.pipes, "ready", start_timeout_s)
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _gather(self, pipes, expected: str, timeout_s: float) -> list:
        replies, deadline = [], time.monotonic() + timeout_s
        for w, pipe in enumerate(pipes):
            if not pipe.poll(max(0.0, deadline - time.monotonic())):
                raise RuntimeError(f"client process {w} gave no {expected!r} within {timeout_s:.0f} s "
                                   f"(alive: {self.procs[w].is_alive()})")
            try:
                reply = pipe.recv()
            except EOFError:
                raise RuntimeError(f"client process {w} exited (code {self.procs[w].exitcode}) "
                                   f"before {expected!r}") from None
            if reply[0] == "error":
                raise RuntimeError(f"client process {w} failed: {reply[1]}")
            replies.append(reply)
        return replies

    def _measure(self, target, spec: Spec, clients: int, warmup_s: float, duration_s: float, offsets=None,
                 drain_s: float = 0.0) -> tuple[pd.DataFrame, float, float]:
        if not 1 <= clients <= self.size:
            raise ParameterError(f"this pool has {self.size} client processes; asked for {clients}")
        for label in (target[0] if isinstance(target, tuple) else [target]):
            if label not in self.conns:
                raise ParameterError(f"this pool has no server {label!r} (it has {sorted(self.conns)})")
        pipes = self.pipes[:clients]
        window = (warmup_s, warmup_s + duration_s, warmup_s + duration_s + drain_s)
        self.counter.value = 0
        for pipe in pipes:
            pipe.send(("run", target, spec, window, offsets))
        self._gather(pipes, "armed", 120)
        t_start = time.perf_counter_ns() + 50_000_000  # every client begins at this instant
        for pipe in pipes:
            pipe.send(("go", t_start))
        replies = self._gather(pipes, "done", warmup_s + duration_s + drain_s + 300)
        raw = pd.DataFrame([row for _, rows, *_ in replies for row in rows],
                           columns=RAW_COLUMNS + (["target"] if isinstance(target, tuple) else []))
        window1 = t_start + int((warmup_s + duration_s) * 1e9)
        raw["in_window"] = (raw["start_ns"] >= 0) & ((raw["scheduled_ns"] + raw["latency_ns"]) <= window1)
        return raw, sum(r[2] for r in replies), max(r[3] for r in replies)

    def closed_loop(self, spec: Spec, concurrency: int, duration_s: float, warmup_s: float = 1.0,
                    target: str = "") -> Result:
        """``concurrency`` clients back to back for ``warmup_s`` then the ``duration_s`` window, against the
        server labelled ``target``. A request belongs to the window if it starts inside it; RPS counts
        those that also finish inside it, divided by ``duration_s``."""
        if duration_s <= 0 or warmup_s < 0:
            raise ParameterError(f"a closed-loop window needs duration_s > 0 and warmup_s >= 0 "
                                 f"(got {duration_s}, {warmup_s})")
        raw, cpu, span = self._measure(target, spec, concurrency, warmup_s, duration_s)
        return Result(raw, duration_s, concurrency, cpu, span, fields={"consistency_level": spec.consistency})

    def closed_loop_sliced(self, spec: Spec, concurrency: int, duration_s: float, warmup_s: float,
                           labels: list[str], slot_s: float = 0.1) -> dict[str, Result]:
        """Closed loop on several servers taking turns in time slots of ``slot_s`` (A B B A …, every client
        switching at the same instants), so each server's RPS and latency are measured under the same host
        conditions, even noise faster than a second. Each server gets an equal share of the window: its RPS
        is the requests started in its slots and finished in the window ÷ that share."""
        if duration_s <= 0 or warmup_s < 0 or slot_s <= 0:
            raise ParameterError(f"a sliced window needs duration_s > 0, warmup_s >= 0 and slot_s > 0 "
                                 f"(got {duration_s}, {warmup_s}, {slot_s})")
        pattern = tuple(labels[i] for row in design.williams(len(labels)) for i in row)
        raw, cpu, span = self._measure((pattern, int(slot_s * 1e9)), spec, concurrency, warmup_s, duration_s)
        share = duration_s / len(labels)
        return {label: Result(raw[raw["target"] == label].drop(columns="target").reset_index(drop=True), share,
                              concurrency, cpu / len(labels), span / len(labels),
                              fields={"consistency_level": spec.consistency}) for label in labels}

    def open_loop(self, spec: Spec, rate: float, duration_s: float, warmup_s: float = 1.0,
                  arrivals: str = "poisson", seed: int = 0, clients: int | None = None,
                  drain_s: float | None = None, target: str = "") -> Result:
        """Requests sent on a schedule at ``rate`` per second (``constant`` or ``poisson`` arrivals) from
        one queue shared by ``clients`` processes (default: all); latency counts from each request's
        *scheduled* time, so a server that falls behind shows its queueing (no coordinated omission).

        A request still unsent ``drain_s`` (default: ``duration_s``) after the window is recorded as
        censored, never dropped. ``scheduled`` is the number of requests due in the window, ``completed``
        how many of them completed without error (before the drain deadline); RPS is the achieved rate:
        requests scheduled in the window and completed in it, divided by ``duration_s``.
        """
        if duration_s <= 0 or warmup_s < 0:
            raise ParameterError(f"an open-loop window needs duration_s > 0 and warmup_s >= 0 "
                                 f"(got {duration_s}, {warmup_s})")
        clients = clients or self.size
        offsets = arrival_offsets(rate, warmup_s + duration_s, arrivals, seed)
        raw, cpu, span = self._measure(target, spec, clients, warmup_s, duration_s, offsets,
                                       duration_s if drain_s is None else drain_s)
        measured = raw[~raw["warmup"]]
        fields = {"consistency_level": spec.consistency, "target_rps": float(rate), "arrivals": arrivals, "not_sent": int(measured["censored"].sum()),
                  "scheduled": len(measured), "completed": int(measured["ok"].sum())}
        return Result(raw, duration_s, clients, cpu, span, fields=fields)

    def close(self) -> None:
        for pipe in self.pipes:
            try:
                pipe.send(("stop",))
            except (OSError, ValueError):
                pass
        for proc in self.procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
        for pipe in self.pipes:
            pipe.close()
        self.pipes, self.procs = [], []
        self.counter = None  # its semaphore is released now, not reported as leaked at interpreter exit


def concurrent(conn: Connection, spec: Spec, concurrency: int, duration_s: float,
               warmup_s: float = 1.0) -> Result:
    """One closed-loop measurement on a pool made for it (a sweep should keep one pool instead)."""
    if concurrency < 1 or duration_s <= 0 or warmup_s < 0:
        raise ParameterError(f"concurrent needs concurrency >= 1, duration_s > 0, warmup_s >= 0 "
                             f"(got {concurrency}, {duration_s}, {warmup_s})")
    with ClientPool(conn, concurrency) as pool:
        return pool.closed_loop(spec, concurrency, duration_s, warmup_s)
