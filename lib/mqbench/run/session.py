"""One notebook execution: its run folder, the context of every row, its servers, its summary part.

A notebook opens a :class:`Session` with its own parameters, starts the variants it compares
through it (one embedded Milvus each, side by side, or the external server at ``uri``), and wraps
each measured phase in :meth:`Session.track`; every finished phase is written to the run folder at
once, so an interruption keeps everything measured before it.
"""
from __future__ import annotations

import contextlib
import shutil
import sys
import time
from enum import StrEnum
from pathlib import Path

import pandas as pd
import psutil

from mqbench.core import checks, mqs, progress, results, schema
from mqbench.core.errors import ContractError, ParameterError, StorageError
from mqbench.core.paths import NOTEBOOKS
from mqbench.core.room import check_disk, dir_bytes
from mqbench.measure import milvus_series
from mqbench.measure.probe import Probe
from mqbench.measure.resources import server_cpu_s
from mqbench.milvus.server import external
from mqbench.run import parameters
from mqbench.stats import metrics
from mqbench.stats.derived import derived_fields
from mqbench.stats.design import Variant, parse_variants

HIDDEN_PARAMS = ("run_dir", "uri")  # where, not what: never columns, never in file names


def notebook_params(notebook: str, namespace: dict) -> dict:
    """The values of ``notebook``'s declared parameters, read from ``namespace`` (a notebook's
    ``globals()``), so a notebook never types its parameter list twice."""
    defaults = parameters.defaults(NOTEBOOKS / f"{notebook}.ipynb")
    params = {name: namespace[name] for name in defaults}
    checks.typed(defaults, params)  # a value set in the notebook by hand, typed as the cell's literal
    return params


class Tracker:
    """Handed out by :meth:`Session.track`; set ``result`` (a workload Result) or ``extra`` fields.
    After the block, ``row`` is the summary row that was recorded."""

    def __init__(self):
        self.result = None
        self.extra: dict = {}
        self.row: dict = {}


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
        self.params = params
        self.context = {"run_id": run_dir.name, "notebook": notebook,
                        **{k: results.column_value(v) for k, v in shown.items()}}
        self.rows: list[dict] = []
        self.variants: list[Variant] = []
        self.cores = psutil.cpu_count(logical=True)
        self.keep_server_data = False  # a server's data/ is removed at stop; logs and config stay
        self.pools: list = []
        self.step = ""  # the last timed phase begun (named by a failure outside every phase)
        _record_errors_of(self)

    @classmethod
    def open(cls, notebook: str, namespace: dict) -> "Session":
        """The session of ``notebook``, its parameters read from ``namespace`` (the notebook's globals):
        joins the runner's ``run_dir``, or (interactive use) creates a new run folder."""
        params = notebook_params(notebook, namespace)
        run_dir = params.get("run_dir", "")
        if run_dir:
            return cls(notebook, params, results.open_run_dir(run_dir), interactive=False)
        path = results.create_run_dir()
        results.write_manifest(path, mode="interactive", notebook=notebook,
                               parameters={k: v for k, v in params.items() if k not in HIDDEN_PARAMS})
        return cls(notebook, params, path, interactive=True)

    def describe_data(self, data) -> None:
        """Record what a dataset turned out to be (``data_*`` columns: its size, and how hard its queries are),
        beside the requested parameters."""
        self.context.update(data_name=data.name, data_n=data.n, data_dim=data.dim, data_metric=data.metric,
                            ground_truth=data.ground_truth, **data.difficulty())

    # -- servers -----------------------------------------------------------------
    def start_variants(self, spec, uri: str = "", overrides=None, folder: str = "") -> list[Variant]:
        """Start one embedded Milvus per variant (``servers/<cell>/<label>[-<folder>]``), side by side, in
        the listed order; with ``uri``, the one external server. Stopped by :meth:`close` (or
        :meth:`close_variants`), at interpreter exit, or with this process if it is killed."""
        if uri and overrides:
            raise ParameterError("server_overrides apply to embedded servers only; unset them or unset uri")
        variants = parse_variants(spec, overrides, external=bool(uri))
        for v in variants:
            if uri:
                v.conn = external(uri, v.mq)
            else:
                self.start_server(v, f"{v.label}-{folder}" if folder else v.label)
            self.variants.append(v)
        return variants

    def start_together(self, spec, folder: str, overrides=None, order=None) -> list[Variant]:
        """Launch one embedded server per variant at once (their start-ups overlap), in ``order`` (variant
        indices; default as listed), then wait for each: for throwaway servers whose start-up is not what is
        measured. Each gets a ``server_start`` row."""
        variants = parse_variants(spec, overrides)
        for v in variants:
            v.server = v.make_server(self.run_dir / "servers" / self.tag / f"{v.label}-{folder}")
        self.start_pair([variants[i] for i in (order or range(len(variants)))])
        return variants

    def start_pair(self, ordered: list[Variant], **tags) -> None:
        """Launch the (stopped) servers of ``ordered`` one after the other in that order, then wait for each in
        the same order, each wait a ``server_start`` row (``together`` servers, ``launch_order``)."""
        for v in ordered:
            v.server.launch()
            if v not in self.variants:
                self.variants.append(v)
        for position, v in enumerate(ordered):
            with self.track(schema.Op.SERVER_START, schema.Phase.LIFECYCLE, v, together=len(ordered),
                            launch_order=position, scrape=False, **tags) as t:
                v.server.ready()
                t.extra.update(start_retries=v.server.start_retries, milvus_version=v.server.version)
            v.conn = v.server.connection

    def close_variants(self, kill: bool | None = None, release_sessions: bool = False, forget: bool = True) -> None:
        """Close the client pools and end every server started so far. By default a server whose data is about
        to be removed is SIGKILLed (a graceful stop of RocksMQ waits out Milvus's 10 s grace period for nothing),
        one whose data is kept is stopped gracefully. With ``forget`` off the variants stay known, their data
        kept, to be started again (:meth:`start_pair`); ``release_sessions`` as in :meth:`stop_server`."""
        for pool in self.pools:
            pool.close()
        self.pools = []
        for variant in self.variants:
            self.stop_server(variant, not self.keep_server_data if kill is None else kill, release_sessions,
                             keep_data=not forget or self.keep_server_data)
            variant.conn = None
        if forget:
            self.variants = []

    def start_server(self, variant: Variant, folder: str = "") -> Variant:
        """Start (or restart after a stop) the server of ``variant``, tracked as ``server_start``."""
        if variant.server is None:
            variant.server = variant.make_server(self.run_dir / "servers" / self.tag / (folder or variant.label))
        with self.track(schema.Op.SERVER_START, schema.Phase.LIFECYCLE, variant) as t:
            variant.server.start()
            t.extra["milvus_version"] = variant.server.version  # a deployment's, as it answers once up
        variant.conn = variant.server.connection
        return variant

    def stop_server(self, variant: Variant, kill: bool = False, release_sessions: bool = False,
                    keep_data: bool | None = None) -> None:
        """Stop ``variant``'s server (SIGKILL with ``kill``, for servers whose data is thrown away or started
        again; ``release_sessions`` revokes its etcd sessions first, so the next start on the folder does not wait
        out their TTL; the ``server_stop`` row's ``stop_method`` says which) and remove its data folder unless
        ``keep_data`` (default: ``keep_server_data``)."""
        server = variant.server
        if server is None or not server.started:
            return
        t0 = time.perf_counter()
        method = server.kill(release_sessions) if kill else server.stop()
        self._append({"op": schema.Op.SERVER_STOP, "phase": schema.Phase.LIFECYCLE, **variant.columns,
                      "duration_s": time.perf_counter() - t0, "status": "ok", "stop_method": method})
        if server.base_dir and not (self.keep_server_data if keep_data is None else keep_data):
            shutil.rmtree(server.base_dir / "data", ignore_errors=True)

    def client_pool(self, size: int):
        """A :class:`~mqbench.measure.workload.ClientPool` connected to every running variant (by label), closed
        before the servers stop."""
        from mqbench.measure.workload import ClientPool
        pool = ClientPool({v.label: v.conn for v in self.variants if v.conn is not None}, size)
        self.pools.append(pool)
        return pool

    def checkpoint_path(self, name: str) -> Path:
        """Where a resumable load of this cell keeps its checkpoint (``checkpoints/<cell>__<name>.json``)."""
        return self.run_dir / "checkpoints" / f"{self.tag}__{results.safe_name(name)}.json"

    # -- guards ------------------------------------------------------------------
    def check_disk(self, need_bytes: float, what: str) -> None:
        check_disk(self.run_dir, need_bytes, what)

    def storage_guard(self, variant: Variant, min_free_bytes: float = 512e6):
        """A check to call between insert batches: disk still has room, and an MQ store stays within its
        registered cap (``store_limit_key``: natsmq's ``natsmq.server.maxFileStore``) if one was set (Milvus
        2.3.5's embedded NATS does not enforce it, so without this an overflowing ingest would silently run on)."""
        server = variant.server
        key = mqs.SPECS[mqs.MQ(server.mq)].store_limit_key if server else ""
        limit = server.overrides.get(key) if key else None

        def guard() -> None:
            check_disk(self.run_dir, min_free_bytes, "the rest of this ingest")
            if limit is not None:
                held = dir_bytes(server.mq_store_dirs) or 0
                if held > int(limit):
                    raise StorageError(f"{server.mq} store holds {held / 2**20:.1f} MiB, over {key}="
                                       f"{int(limit)} B ({int(limit) / 2**20:.1f} MiB); stopping the ingest")
        return guard

    # -- measuring ---------------------------------------------------------------
    def _only_variant(self) -> Variant | None:
        running = [v for v in self.variants if v.conn is not None]
        return running[0] if len(running) == 1 else None

    @contextlib.contextmanager
    def track(self, op: str, phase: str, variant: Variant | None = None, concurrency: int = 0,
              rows: int | None = None, dataset=None, k: int | None = None, broker_pid: int | None = None,
              store_dir=None, scrape: bool = True, **fields):
        """Measure one phase on ``variant`` (the only one, if omitted) with a :class:`~mqbench.measure.probe.Probe`
        (wall time, server CPU/peak RSS, client CPU, MQ bytes, Milvus's own series as ``milvus_*`` deltas unless
        ``scrape`` is off — a row recorded after the fact) and record it as one summary row (:meth:`_record`).

        Set ``tracker.result`` to a workload Result to also record its latencies and RPS (and
        recall@``k`` and NDCG@``k`` against ``dataset``'s ground truth when it kept search ids).
        ``broker_pid``/``store_dir`` measure another process and store than the variant's server
        (a standalone broker, or this process for an in-process store); ``fields`` are extra columns.
        """
        self._check_columns(fields)
        variant = variant or self._only_variant()
        server = variant.server if variant and variant.server and variant.server.started else None
        progress.phase(" · ".join(str(x) for x in (op, phase, variant.label if variant else "") if x))
        probe = Probe(server, op, phase, broker_pid, store_dir, scrape).start()
        tracker = Tracker()
        row = {"op": op, "phase": phase, **(variant.columns if variant else {}), "concurrency": concurrency,
               **fields}
        failure = None
        self.step = f"{op}/{phase}"
        try:
            yield tracker
        except BaseException as exc:
            failure = exc
        measured, failure = probe.finish(failure)
        self._record({**row, **measured, **tracker.extra}, tracker, failure, server, rows, dataset, k)

    def _record(self, row: dict, tracker: Tracker, failure, server, rows, dataset, k) -> None:
        """The row recorder of :meth:`track`: rows/s, the workload's columns, derived columns, then an ok row — or
        a failed one naming the error and the server's log tail, and the failure raised again."""
        op, phase = row["op"], row["phase"]
        if rows is not None:
            row["rows"] = rows
            wall = row["duration_s"]
            row.setdefault("rows_per_s", rows / wall if wall > 0 else float("nan"))
        if tracker.result is not None:
            row.update(self._result_row(op, phase, row, tracker.result, dataset, k))
            measured = tracker.result.measured
            if failure is None and len(measured) and not measured["ok"].any():
                failure = RuntimeError(f"every {op} request failed, e.g. {measured['error'].iloc[0]}")
        row.update(derived_fields(row))
        if failure is None:
            tracker.row = self._append({**row, "status": "ok"})
            return
        tracker.row = self._append({**row, "status": "failed", "error": f"{type(failure).__name__}: {failure}"[:500],
                                    "server_log_tail": server.log_tail() if server else ""})
        failure.mqbench_recorded = True  # noqa: B010 (read by record_untracked_failure)
        raise failure

    def record_untracked_failure(self, exc: BaseException) -> list[dict]:
        """A failed row per server found dead when ``exc`` escaped outside every timed phase (client processes
        connecting, a step nothing times): the row names the server, its exit code and the last phase begun, so no
        death goes unrecorded whatever its moment. Errors a tracked phase recorded already are left alone."""
        if getattr(exc, "mqbench_recorded", False):
            return []
        rows = []
        for v in self.variants:
            server = v.server
            if server is None or not server.started or server.running:
                continue
            rows.append(self._append({
                "op": schema.Op.UNTRACKED, "phase": schema.Phase.LIFECYCLE, **v.columns, "status": "failed",
                "error": (f"ServerError: milvus ({server.mq}) died with exit code {server.proc.returncode} outside a "
                          f"timed phase (after {self.step or 'no phase'}; the client saw: {type(exc).__name__}: "
                          f"{exc})")[:500], "server_log_tail": server.log_tail()}))
        return rows

    def idle(self, variant: Variant, window_s: float, **tags) -> dict:
        """The server's own CPU and memory while nothing is asked of it (``server_cpu_s`` over ``duration_s``, its
        RSS): background work (compaction, index, time ticks) that would otherwise be charged to what is measured
        next, and what the server holds at rest."""
        with self.track(schema.Op.IDLE, schema.Phase.LIFECYCLE, variant, **tags) as t:
            time.sleep(window_s)
        return t.row

    @contextlib.contextmanager
    def interleaved(self, ordered: list[Variant], op: str, phase: str, tags: dict, **kwargs):
        """Around one measurement made with the servers of ``ordered`` interleaved: Milvus's series of every
        server scraped before and after, then one row per variant from the dict the block fills (label ->
        a workload Result, or a dict of extra fields), with that server's deltas. Its duration is the
        interleaved span's; each server's CPU is its own process's over the span (its share of the requests and its
        background work); peak memory is not sampled."""
        before = {v.label: _scrape(v) for v in ordered}
        cpu0 = {v.label: server_cpu_s(v.server) for v in ordered}
        t0, results = time.perf_counter(), {}
        yield results
        seconds = time.perf_counter() - t0
        cpu1 = {v.label: server_cpu_s(v.server) for v in ordered}
        for position, v in enumerate(ordered):
            got = results[v.label]
            with self.track(op, phase, v, scrape=False, **kwargs,
                            **dict(tags, block_order=position, interleaved=True)) as t:
                if isinstance(got, dict):
                    t.extra.update(got)
                else:
                    t.result = got
                spent = cpu1[v.label] - cpu0[v.label] if None not in (cpu0[v.label], cpu1[v.label]) else None
                t.extra.update(duration_s=seconds, server_cpu_s=spent, server_rss_peak_mib=None,
                               **milvus_series.deltas(before[v.label], _scrape(v), op))

    def write_raw(self, name: str, raw: pd.DataFrame, **columns) -> str:
        """Raw rows under ``raw/`` with the run's key columns; returns the path to put in ``raw_file``."""
        raw_name = f"{self.tag}__{len(self.rows):04d}-{results.safe_name(name)}.parquet"
        raw = raw.assign(run_id=self.context["run_id"], notebook=self.notebook, repeat=self.context.get("repeat"),
                         **columns)
        results.atomic_write_parquet(raw, self.run_dir / "raw" / raw_name)
        return f"raw/{raw_name}"

    def _result_row(self, op: str, phase: str, row: dict, res, dataset, k) -> dict:
        keys = {c: row[c] for c in ("variant", "mq", "block") if c in row}
        raw_file = self.write_raw(f"{op}-{phase}-c{row['concurrency']}-{row.get('variant', '')}", res.raw,
                                  op=op, phase=phase, concurrency=row["concurrency"], **keys)
        out = metrics.summarize(res, self.cores)
        out["raw_file"] = raw_file
        if res.found_ids and dataset is not None and dataset.neighbors is not None:
            out["recall_at_k"] = dataset.recall(res.found_ids, k)
            out["ndcg_at_k"] = dataset.ndcg(res.found_ids, k)
        return {**out, **res.fields}

    def _check_columns(self, names) -> None:
        """Refuse a column outside the contract: neither registered nor one of the notebook's parameters."""
        unknown = sorted(n for n in names if not schema.declared(n) and n not in self.params)
        if unknown:
            raise ContractError(f"{self.notebook}: column(s) {unknown} are not declared: register them in "
                                "mqbench.core.schema.COLUMNS (unit, meaning, kind) or make them parameters")

    def _append(self, row: dict) -> dict:
        self._check_columns(row)
        row = {k: str(v) if isinstance(v, StrEnum) else v for k, v in row.items()}
        clash = [k for k in set(row) & set(self.context) if row[k] != self.context[k]]
        if clash:
            raise ParameterError(f"parameter name(s) {sorted(clash)} clash with summary columns; rename the parameter")
        full = {**self.context, **row}
        self.rows.append(full)
        results.atomic_write_parquet(self.summary, self.part_path)
        return full

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)

    def close(self) -> pd.DataFrame:
        """Close client pools, stop every server; interactive runs consolidate their own ``summary.parquet``."""
        self.close_variants()
        progress.phase("")
        if self.interactive:
            results.consolidate(self.run_dir)
        return self.summary


def _record_errors_of(session: Session) -> None:
    """In a notebook kernel, every error a cell raises passes :meth:`Session.record_untracked_failure` first, then
    shows as usual (papermill still sees the cell fail)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return

    def handler(shell, etype, value, tb, tb_offset=None):
        try:
            session.record_untracked_failure(value)
        except Exception as exc:  # the cell's own error is the one to show
            print(f"mqbench: the failure could not be recorded: {type(exc).__name__}: {exc}", file=sys.stderr)
        stb = shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
        shell._showtraceback(etype, value, stb)  # IPython shows nothing itself for a custom exception
        return stb

    shell.set_custom_exc((Exception,), handler)


def _scrape(v: Variant) -> dict:
    server = v.server
    return milvus_series.scrape(server.metrics) if server is not None and server.running else {}
