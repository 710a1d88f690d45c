"""Where the MQ sits on the path: insert→visible lag, Strong reads across the time tick, recovery after
SIGKILL, a background writer, and MQ bytes during a sustained ingest.

Inserts travel through the MQ's DML channels to the query node; Strong reads wait for the time tick
that covers them. So the time from an acknowledged insert to the row being visible, and the time a
killed server needs to replay its channels and serve every acknowledged row again, are MQ-sensitive.
"""
from __future__ import annotations

import dataclasses
import multiprocessing as mp
import time

import numpy as np
import pandas as pd

from mqbench.core.errors import ParameterError
from mqbench.core.room import dir_bytes
from mqbench.core.schema import Op, Phase
from mqbench.measure.workload import Spec, interleaved
from mqbench.milvus.processes import set_pdeathsig
from mqbench.stats.metrics import km_median, latency_stats


def _vectors(rng, rows: int, dim: int) -> np.ndarray:
    return rng.standard_normal((rows, dim), dtype=np.float32)


def visibility_lags(client, collection: str, dim: int, batch_rows: int, batches: int, consistency: str,
                    first_id: int, seed: int = 0, timeout_s: float = 60, gap_s: float = 0.0) -> pd.DataFrame:
    """For each batch: insert it, then poll its last id with ``consistency`` until it is visible.

    ``ack_ms`` is the insert call; ``lag_ms`` runs from the acknowledgement to the first poll that sees
    the row (for Strong the first poll itself waits for the time tick); ``polls`` counts the queries.
    ``gap_s`` > 0 pauses an exponential time (that mean) before each insert, so inserts land at random
    phases of the tick. A batch not visible within ``timeout_s`` is kept with ``visible = False``.
    """
    rng = np.random.default_rng(seed)
    out = []
    for b in range(batches):
        if gap_s:
            time.sleep(rng.exponential(gap_s))
        start = first_id + b * batch_rows
        t0 = time.perf_counter_ns()
        client.insert(collection, np.arange(start, start + batch_rows), _vectors(rng, batch_rows, dim))
        t_ack = time.perf_counter_ns()
        last, polls, seen = start + batch_rows - 1, 0, False
        deadline = t_ack + int(timeout_s * 1e9)
        while not seen and time.perf_counter_ns() < deadline:
            polls += 1
            seen = client.has_id(collection, last, consistency)
        t_seen = time.perf_counter_ns()
        out.append({"batch": b, "batch_rows": batch_rows, "consistency": consistency, "ack_ms": (t_ack - t0) / 1e6,
                    "lag_ms": (t_seen - t_ack) / 1e6, "polls": polls, "visible": seen})
    return pd.DataFrame(out)


def lag_summary(lags: pd.DataFrame) -> dict:
    """Lag statistics of every batch (percentiles only where the sample supports them, as for latencies): a
    batch never seen is *censored* at its timeout — its lag is at least the time waited. The mean keeps it as
    that lower bound (so a comparison of means is withheld where any batch was censored: ``lags_censored``,
    also counted in ``errors``); the Kaplan–Meier median carries it as censoring (:func:`km_median`)."""
    stats = latency_stats(lags["lag_ms"] * 1e6, "lag")
    censored = int((~lags["visible"]).sum())
    median = km_median(lags["lag_ms"], lags["visible"])
    return {"count": len(lags), "errors": censored, "lags_censored": censored, **stats,
            "lag_km_median_ms": median, "lag_median_censored": int(not np.isfinite(median) and len(lags) > 0),
            "ack_avg_ms": float(lags["ack_ms"].mean())}


def tick_samples(session, ordered, search: Spec, query: Spec, tick_collection: str, dim: int, samples: int,
                 gap_s: float, seed: int, first_id: int, tags: dict, timeout_s: float = 60) -> None:
    """The reads that wait for Milvus's time tick, on the servers of one start (``ordered`` in the start's design
    order), interleaved server by server: ``samples`` Strong searches (``search``), ``samples`` Strong
    primary-key queries (``query``), and ``samples`` single-row inserts into ``tick_collection``, each timed
    until an Eventually read sees it (insert→visible). An exponential pause (mean ``gap_s``) before every
    sample puts them at random phases of the tick. One row per variant and kind, with Milvus's own series."""
    conns = {v.label: v.conn for v in ordered}
    for spec in (search, query):
        strong = dataclasses.replace(spec, consistency="Strong")
        with session.interleaved(ordered, spec.kind, Phase.TICK, dict(tags, consistency_level="Strong")) as out:
            out.update(interleaved(conns, strong, samples, 2, gap_s=gap_s, seed=seed))
    frames = {v.label: [] for v in ordered}
    with session.interleaved(ordered, Op.INSERT_VISIBLE, Phase.TICK, dict(tags, consistency_level="Eventually"),
                             batch_rows=1) as out:
        clients = {v.label: v.conn.client() for v in ordered}
        try:
            for i in range(samples):
                for v in (ordered if i % 2 == 0 else ordered[::-1]):
                    frames[v.label].append(visibility_lags(clients[v.label], tick_collection, dim, 1, 1, "Eventually",
                                                           first_id + i, seed=seed * 1000 + i, timeout_s=timeout_s,
                                                           gap_s=gap_s).assign(batch=i))
        finally:
            for client in clients.values():
                client.close()
        for v in ordered:
            lags = pd.concat(frames[v.label], ignore_index=True)
            out[v.label] = {**lag_summary(lags), "raw_file": session.write_raw(
                f"tick-lag-{v.label}-{tags.get('block', '')}", lags, **v.columns, block=tags.get("block"))}


def present_ids(client, collection: str, ids: np.ndarray, page: int = 5000) -> tuple[int, int]:
    """(distinct ``ids`` that are visible to a Strong query, rows returned for them): a duplicate cannot
    hide a loss, as it could in ``count(*)``."""
    found, returned = set(), 0
    for start in range(0, len(ids), page):
        chunk = ids[start:start + page].tolist()
        rows = client.query(collection, f"id in {chunk}", limit=len(chunk) * 2, consistency="Strong")
        returned += len(rows)
        found.update(row["id"] for row in rows)
    return len(found), returned


def kill_and_recover(server, collection: str, acked_ids: np.ndarray, timeout_s: float = 300) -> dict:
    """SIGKILL the embedded server, restart it on the same folder, and time (a) until it serves a
    Strong ``count(*)`` again and (b) until as many rows as were acknowledged are counted; then check the
    acknowledged ids themselves: ``rows_lost`` are acknowledged ids not found, ``rows_duplicated`` extra
    rows returned for them. Whatever is observed is reported."""
    acked = len(acked_ids)
    server.kill()
    t0 = time.perf_counter()
    server.restart()
    started = time.perf_counter() - t0
    serving = seen = None
    count = -1
    with server.connection.client(timeout=timeout_s) as client:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                count = client.count(collection)
                serving = serving or time.perf_counter() - t0
                if count >= acked:
                    seen = time.perf_counter() - t0
                    break
            except Exception:  # noqa: BLE001 - not serving yet (collection still loading, channels replaying)
                pass
            time.sleep(0.2)
        distinct, returned = present_ids(client, collection, acked_ids) if serving else (0, 0)
    return {"restart_s": started, "serving_s": serving, "all_visible_s": seen, "rows_acked": acked,
            "rows_visible": count, "rows_lost": acked - distinct if serving else None,
            "rows_duplicated": returned - distinct if serving else None}


# -- a background writer at a fixed rate, in its own process -------------------------------------------------
def _writer(conn, collection: str, dim: int, rows_per_s: float, batch_rows: int, duration_s: float,
            first_id: int, seed: int, out) -> None:
    set_pdeathsig()
    acks = []
    try:
        with conn.client() as client:
            rng = np.random.default_rng(seed)
            vectors = _vectors(rng, batch_rows, dim)
            interval = batch_rows / rows_per_s
            t0 = time.perf_counter()
            sent = late = 0
            while time.perf_counter() - t0 < duration_s:
                due = t0 + (sent // batch_rows) * interval
                now = time.perf_counter()
                if now < due:
                    time.sleep(due - now)
                elif now - due > interval:
                    late += 1
                client.insert(collection, np.arange(first_id + sent, first_id + sent + batch_rows), vectors)
                sent += batch_rows
                acks.append(time.perf_counter_ns())
        out.put({"rows": sent, "late_batches": late, "acks_ns": acks, "error": ""})
    except BaseException as exc:  # reported, never hangs the parent
        out.put({"rows": len(acks) * batch_rows, "late_batches": 0, "acks_ns": acks,
                 "error": f"{type(exc).__name__}: {exc}"})


class BackgroundWriter:
    """Inserts ``rows_per_s`` (in batches of ``batch_rows``) for ``duration_s`` from a spawned process.
    After the block, :meth:`achieved` gives the rate over a window (never the target pretended)."""

    def __init__(self, conn, collection: str, dim: int, rows_per_s: float, duration_s: float,
                 batch_rows: int = 100, first_id: int = 0, seed: int = 0):
        if rows_per_s <= 0 or duration_s <= 0 or batch_rows < 1:
            raise ParameterError(f"writer needs rows_per_s > 0, duration_s > 0, batch_rows >= 1 "
                                 f"(got {rows_per_s}, {duration_s}, {batch_rows})")
        ctx = mp.get_context("spawn")
        self.out = ctx.Queue()
        self.target, self.batch_rows, self.duration_s = rows_per_s, batch_rows, duration_s
        self.proc = ctx.Process(target=_writer, args=(conn, collection, dim, rows_per_s, batch_rows, duration_s,
                                                      first_id, seed, self.out), daemon=True)
        self.result: dict = {}

    def __enter__(self) -> "BackgroundWriter":
        self.proc.start()
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.result = self.out.get(timeout=self.duration_s + 120)
        finally:
            self.proc.join(timeout=30)
            if self.proc.is_alive():
                self.proc.kill()

    def achieved(self, start_ns: int, end_ns: int) -> dict:
        """Rows acknowledged between ``start_ns`` and ``end_ns`` (perf_counter_ns, shared by processes on
        Linux) per second, with the target and the writer's error, as summary fields."""
        acks = np.asarray(self.result.get("acks_ns", []), dtype=np.int64)
        inside = int(((acks >= start_ns) & (acks <= end_ns)).sum()) * self.batch_rows
        span = (end_ns - start_ns) / 1e9
        return {"writer_target_rows_per_s": self.target, "writer_achieved_rows_per_s": inside / span if span > 0
                else np.nan, "writer_rows": self.result.get("rows", 0),
                "writer_late_batches": self.result.get("late_batches", 0), "writer_error": self.result.get("error", "")}


def ingest_growth(client, collection: str, dim: int, rows: int, batch_rows: int, store_dirs, seed: int = 0,
                  first_id: int = 0) -> pd.DataFrame:
    """Insert ``rows`` as fast as acknowledged, recording the MQ store's bytes on disk after each batch."""
    rng = np.random.default_rng(seed)
    out, done, t0 = [], 0, time.perf_counter()
    while done < rows:
        n = min(batch_rows, rows - done)
        client.insert(collection, np.arange(first_id + done, first_id + done + n), _vectors(rng, n, dim))
        done += n
        out.append({"rows_inserted": done, "elapsed_s": time.perf_counter() - t0,
                    "mq_storage_bytes": dir_bytes(store_dirs)})
    return pd.DataFrame(out)
