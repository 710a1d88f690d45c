"""Where the MQ sits on the path: insert→visible lag per consistency level, and recovery after SIGKILL.

Inserts travel through the MQ's DML channels to the query node; Strong reads wait for the time tick
that covers them. So the time from an acknowledged insert to the row being visible, and the time a
killed server needs to replay its channels and serve every acknowledged row again, are MQ-sensitive.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from .client import ID_FIELD, VECTOR_FIELD


def _rows(first_id: int, vectors: np.ndarray) -> list[dict]:
    return [{ID_FIELD: first_id + i, VECTOR_FIELD: v} for i, v in enumerate(vectors.tolist())]


def _visible(client, collection: str, row_id: int, consistency: str) -> bool:
    return bool(client.query(collection, filter=f"{ID_FIELD} == {row_id}", output_fields=[ID_FIELD],
                             consistency_level=consistency))


def visibility_lags(client, collection: str, dim: int, batch_rows: int, batches: int, consistency: str,
                    first_id: int, seed: int = 0, timeout_s: float = 60) -> pd.DataFrame:
    """For each batch: insert it, then poll its last id with ``consistency`` until it is visible.

    ``ack_ms`` is the insert call; ``lag_ms`` runs from the acknowledgement to the first poll that sees
    the row (for Strong the first poll itself waits for the time tick); ``polls`` counts the queries.
    A batch not visible within ``timeout_s`` is kept with ``visible = False``, never dropped.
    """
    rng = np.random.default_rng(seed)
    out = []
    for b in range(batches):
        start = first_id + b * batch_rows
        vectors = rng.standard_normal((batch_rows, dim), dtype=np.float32)
        t0 = time.perf_counter_ns()
        client.insert(collection, _rows(start, vectors))
        t_ack = time.perf_counter_ns()
        last, polls, seen = start + batch_rows - 1, 0, False
        deadline = t_ack + int(timeout_s * 1e9)
        while not seen and time.perf_counter_ns() < deadline:
            polls += 1
            seen = _visible(client, collection, last, consistency)
        t_seen = time.perf_counter_ns()
        out.append({"batch": b, "batch_rows": batch_rows, "consistency": consistency, "ack_ms": (t_ack - t0) / 1e6,
                    "lag_ms": (t_seen - t_ack) / 1e6, "polls": polls, "visible": seen})
    return pd.DataFrame(out)


def lag_summary(lags: pd.DataFrame) -> dict:
    seen = lags[lags["visible"]]["lag_ms"]
    p = np.percentile(seen, [50, 95, 99]) if len(seen) else [np.nan] * 3
    return {"count": len(lags), "errors": int((~lags["visible"]).sum()), "lag_p50_ms": float(p[0]),
            "lag_p95_ms": float(p[1]), "lag_p99_ms": float(p[2]),
            "lag_max_ms": float(seen.max()) if len(seen) else np.nan,
            "ack_p50_ms": float(lags["ack_ms"].median())}


def kill_and_recover(server, collection: str, acked: int, timeout_s: float = 300) -> dict:
    """SIGKILL the embedded server, restart it on the same folder, and time (a) until it serves a
    Strong ``count(*)`` again and (b) until all ``acked`` rows are visible. Rows lost are reported
    as observed, whatever they are."""
    import os
    import signal

    os.kill(server.pid, signal.SIGKILL)
    server.proc.wait()
    server.stop()  # records exited(-9), releases the log files
    t0 = time.perf_counter()
    server.start()
    started = time.perf_counter() - t0
    client = server.connection.client(timeout=timeout_s)
    serving = seen = None
    deadline = time.monotonic() + timeout_s
    count = -1
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
    client.close()
    return {"restart_s": started, "serving_s": serving, "all_visible_s": seen, "rows_acked": acked,
            "rows_visible": count, "rows_lost": acked - count if count >= 0 else None}


# -- a background writer at a fixed rate, in its own process -------------------------------------------------
def _writer(conn, collection: str, dim: int, rows_per_s: float, batch_rows: int, duration_s: float,
            first_id: int, seed: int, out) -> None:
    try:
        client = conn.client()
        rng = np.random.default_rng(seed)
        vectors = rng.standard_normal((batch_rows, dim), dtype=np.float32)
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
            client.insert(collection, _rows(first_id + sent, vectors))
            sent += batch_rows
        client.close()
        out.put({"rows": sent, "elapsed_s": time.perf_counter() - t0, "late_batches": late, "error": ""})
    except BaseException as exc:  # reported, never hangs the parent
        out.put({"rows": 0, "elapsed_s": 0.0, "late_batches": 0, "error": f"{type(exc).__name__}: {exc}"})


class BackgroundWriter:
    """Inserts ``rows_per_s`` (in batches of ``batch_rows``) for ``duration_s`` from a spawned process.
    ``result`` after the block: rows written, the achieved rate (never the target pretended), late batches."""

    def __init__(self, conn, collection: str, dim: int, rows_per_s: float, duration_s: float,
                 batch_rows: int = 100, first_id: int = 0, seed: int = 0):
        import multiprocessing as mp

        if rows_per_s <= 0 or duration_s <= 0 or batch_rows < 1:
            raise ValueError(f"writer needs rows_per_s > 0, duration_s > 0, batch_rows >= 1 "
                             f"(got {rows_per_s}, {duration_s}, {batch_rows})")
        ctx = mp.get_context("spawn")
        self.out = ctx.Queue()
        self.target = rows_per_s
        self.proc = ctx.Process(target=_writer, args=(conn, collection, dim, rows_per_s, batch_rows, duration_s,
                                                      first_id, seed, self.out), daemon=True)
        self.duration_s = duration_s
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
        r = self.result
        r["achieved_rows_per_s"] = r["rows"] / r["elapsed_s"] if r.get("elapsed_s") else 0.0
        r["target_rows_per_s"] = self.target


def ingest_growth(client, collection: str, dim: int, rows: int, batch_rows: int, store_dir, seed: int = 0,
                  first_id: int = 0) -> pd.DataFrame:
    """Insert ``rows`` as fast as acknowledged, recording the MQ store's bytes on disk after each batch."""
    from .resources import dir_bytes

    rng = np.random.default_rng(seed)
    out, done, t0 = [], 0, time.perf_counter()
    while done < rows:
        n = min(batch_rows, rows - done)
        client.insert(collection, _rows(first_id + done, rng.standard_normal((n, dim), dtype=np.float32)))
        done += n
        out.append({"rows_inserted": done, "elapsed_s": time.perf_counter() - t0,
                    "mq_storage_bytes": dir_bytes(store_dir)})
    return pd.DataFrame(out)
