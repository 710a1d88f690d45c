"""One notebook execution: its run folder, the context of every row, its server, its summary part.

A notebook opens a :class:`Session`, starts Milvus through it, and wraps each measured
phase in :meth:`Session.track`; every finished phase is written to the run folder at
once, so an interruption keeps everything measured before it.
"""
from __future__ import annotations

import contextlib
import shutil
import time
from pathlib import Path

import pandas as pd
import psutil

from . import metrics, results
from .datasets import ndcg_at_k, recall_at_k
from .resources import Sampler, StorageError, check_disk, dir_bytes
from .server import Connection, EmbeddedMilvus, MilvusServerError, check_mq, external

HIDDEN_PARAMS = ("run_dir", "uri")  # where, not what: never columns, never in file names


class Tracker:
    """Handed out by :meth:`Session.track`; set ``result`` (a workload Result) or ``extra`` fields."""

    def __init__(self):
        self.result = None
        self.extra: dict = {}


class Session:
    def __init__(self, notebook: str, params: dict, run_dir: Path, interactive: bool):
        self.notebook = notebook
        self.run_dir = run_dir
        self.interactive = interactive
        shown = {k: v for k, v in params.items() if k not in HIDDEN_PARAMS}
        self.tag = results.cell_tag(notebook, shown)
        self.part_path = run_dir / "parts" / f"{self.tag}.parquet"
        if self.part_path.exists():
            raise results.RunDirError(f"{self.part_path} exists: this cell of the grid was already measured")
        self.context = {"run_id": run_dir.name, "notebook": notebook,
                        **{k: results.column_value(v) for k, v in shown.items()}}
        self.rows: list[dict] = []
        self.server: EmbeddedMilvus | None = None
        self.conn: Connection | None = None
        self.cores = psutil.cpu_count(logical=True)
        self.keep_server_data = False  # the server's data/ is removed at stop; logs and config stay
        self.pools: list = []

    @classmethod
    def open(cls, notebook: str, params: dict, run_dir: str = "") -> "Session":
        """Join the runner's ``run_dir``, or (interactive use) create a new run folder."""
        if run_dir:
            return cls(notebook, params, results.open_run_dir(run_dir), interactive=False)
        path = results.create_run_dir()
        results.write_manifest(path, mode="interactive", notebook=notebook,
                               parameters={k: v for k, v in params.items() if k not in HIDDEN_PARAMS})
        return cls(notebook, params, path, interactive=True)

    # -- server ------------------------------------------------------------------
    def start_server(self, mq: str, uri: str = "", overrides=None, name: str = "") -> Connection:
        """An embedded Milvus with ``mq`` in this run's folder (``servers/<cell>[/<name>]``), or the
        external one at ``uri``.

        The embedded server is stopped by :meth:`close` (or at interpreter exit, or with
        this process if it is killed).
        """
        if self.conn is not None:
            raise RuntimeError("this session already has a server; close() it first")
        if uri:
            if overrides:
                raise ValueError("server_overrides apply to embedded servers only; unset them or unset uri")
            self.context["server"] = "external"
            self.conn = external(uri, mq)
            return self.conn
        check_mq(mq)
        self.context["server"] = "embedded"
        self.server = EmbeddedMilvus(mq, self.run_dir / "servers" / self.tag / name, overrides)
        with self.track("server_start", "lifecycle"):
            self.server.start()
        self.conn = self.server.connection
        return self.conn

    def client_pool(self, size: int):
        """A :class:`~mqbench.workload.ClientPool` on this session's server, closed before the server stops."""
        from .workload import ClientPool
        pool = ClientPool(self.conn, size)
        self.pools.append(pool)
        return pool

    def stop_server(self) -> None:
        for pool in self.pools:
            pool.close()
        self.pools = []
        if self.server is not None and self.server.proc is not None:
            t0 = time.perf_counter()
            method = self.server.stop()
            self._append({"op": "server_stop", "phase": "lifecycle", "duration_s": time.perf_counter() - t0,
                          "status": "ok", "stop_method": method})
            if not self.keep_server_data:
                shutil.rmtree(self.server.base_dir / "data", ignore_errors=True)
        self.conn = None

    def checkpoint_path(self, name: str) -> Path:
        """Where a resumable load of this cell keeps its checkpoint (``checkpoints/<cell>__<name>.json``)."""
        return self.run_dir / "checkpoints" / f"{self.tag}__{results.safe_name(name)}.json"

    # -- guards ------------------------------------------------------------------
    def check_disk(self, need_bytes: float, what: str) -> None:
        check_disk(self.run_dir, need_bytes, what)

    def storage_guard(self, min_free_bytes: float = 512e6):
        """A check to call between insert batches: disk still has room, and a natsmq store stays
        within ``natsmq.server.maxFileStore`` if one was set (Milvus 2.3.5's embedded NATS does not
        enforce it, so without this an overflowing ingest would silently run on)."""
        server = self.server
        limit = server.overrides.get("natsmq.server.maxFileStore") if server and server.mq == "natsmq" else None

        def guard() -> None:
            check_disk(self.run_dir, min_free_bytes, "the rest of this ingest")
            if limit is not None:
                held = dir_bytes(server.mq_store_dir) or 0
                if held > int(limit):
                    raise StorageError(f"natsmq store holds {held / 2**20:.1f} MiB, over natsmq.server.maxFileStore="
                                       f"{int(limit)} B ({int(limit) / 2**20:.1f} MiB); stopping the ingest")
        return guard

    # -- measuring ---------------------------------------------------------------
    @contextlib.contextmanager
    def track(self, op: str, phase: str, concurrency: int = 0, rows: int | None = None,
              dataset=None, k: int | None = None, broker_pid: int | None = None, store_dir=None, **fields):
        """Measure one phase: wall time, server CPU/peak RSS, client CPU, MQ bytes.

        Set ``tracker.result`` to a workload Result to also record its latencies and RPS (and
        recall@``k`` and NDCG@``k`` against ``dataset``'s ground truth when it kept search ids).
        ``broker_pid``/``store_dir`` measure another process and store than the session's server
        (a standalone broker, or this process for an in-process store); ``fields`` are extra columns.
        """
        server = self.server if self.server and self.server.proc else None
        pid = broker_pid or (server.pid if server else None)
        store = store_dir or (server.mq_store_dir if server else None)
        sampler = Sampler(pid, store).start()
        tracker = Tracker()
        row = {"op": op, "phase": phase, "concurrency": concurrency, **fields}
        failure = None
        try:
            yield tracker
        except BaseException as exc:
            failure = exc
        if server is not None and server.proc is not None and not server.running:
            # the server's death explains whatever the client saw, so it leads the error
            then = f" (the client saw: {type(failure).__name__}: {failure})" if failure else ""
            failure = MilvusServerError(f"milvus ({server.mq}) died during {op}/{phase} "
                                        f"with exit code {server.proc.returncode}{then}")
        usage = sampler.stop()
        row.update(usage.as_row(), **tracker.extra)
        if rows is not None:
            row.update(rows=rows, rows_per_s=rows / usage.wall_s if usage.wall_s > 0 else float("nan"))
        if tracker.result is not None:
            row.update(self._result_row(op, phase, concurrency, tracker.result, dataset, k))
            measured = tracker.result.measured
            if failure is None and len(measured) and not measured["ok"].any():
                failure = RuntimeError(f"every {op} request failed, e.g. {measured['error'].iloc[0]}")
        if failure is None:
            self._append({**row, "status": "ok"})
            return
        self._append({**row, "status": "failed", "error": f"{type(failure).__name__}: {failure}"[:500],
                      "server_log_tail": server.log_tail() if server else ""})
        raise failure

    def write_raw(self, name: str, raw: pd.DataFrame, **columns) -> str:
        """Raw rows under ``raw/`` with the run's key columns; returns the path to put in ``raw_file``."""
        raw_name = f"{self.tag}__{results.safe_name(name)}.parquet"
        raw = raw.assign(run_id=self.context["run_id"], notebook=self.notebook, mq=self.context.get("mq"),
                         repeat=self.context.get("repeat"), **columns)
        results.atomic_write_parquet(raw, self.run_dir / "raw" / raw_name)
        return f"raw/{raw_name}"

    def _result_row(self, op: str, phase: str, concurrency: int, res, dataset, k) -> dict:
        raw_file = self.write_raw(f"{len(self.rows):03d}-{op}-{phase}-c{concurrency}", res.raw, op=op, phase=phase,
                                  concurrency=concurrency)
        measured = res.measured
        ok = measured[measured["ok"]]
        row = {"count": len(measured), "errors": int((~measured["ok"]).sum()),
               "warmup_count": int(res.raw["warmup"].sum()), "window_s": res.window_s,
               "rps": res.completed_in_window() / res.window_s if res.window_s > 0 else float("nan"),
               "client_cpu_s": res.client_cpu_s,
               "client_cpu_share": res.client_cpu_s / (res.window_s * self.cores) if res.window_s > 0 else None,
               "raw_file": raw_file, **metrics.latency_stats(ok["latency_ns"]),
               **res.fields}
        if "target_rps" in res.fields:  # open loop: latency counts from the schedule, service time from the send
            row.update(metrics.latency_stats(ok["service_ns"], "service"))
        if res.found_ids and dataset is not None and dataset.neighbors is not None:
            row["recall_at_k"] = recall_at_k(res.found_ids, dataset.neighbors, k, res.found_dist,
                                             dataset.distances, dataset.metric)
            row["ndcg_at_k"] = ndcg_at_k(res.found_ids, dataset.neighbors, k)
        return row

    def _append(self, row: dict) -> None:
        clash = set(row) & set(self.context)
        if clash:
            raise ValueError(f"parameter name(s) {sorted(clash)} clash with summary columns; rename the parameter")
        self.rows.append({**self.context, **row})
        results.atomic_write_parquet(self.summary, self.part_path)

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)

    def close(self) -> pd.DataFrame:
        """Stop the server; interactive runs consolidate their own ``summary.parquet``."""
        self.stop_server()
        if self.interactive:
            results.consolidate(self.run_dir)
        return self.summary
