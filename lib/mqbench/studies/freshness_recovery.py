"""``freshness_recovery.ipynb``: the time tick over many server starts, then freshness, search while
inserting, sustained ingest and recovery on one server per variant side by side.

**Time-tick study.** A Strong read, and the first read that sees a fresh insert, wait until the query
node has consumed the MQ's time-tick messages past the request's timestamp (``proxy.timeTickInterval``,
200 ms by default). How long that is depends on the phase between Milvus's tick loops, which is
fixed when a server starts — so for these metrics the unit is the server start. Each block launches one
throwaway server per variant together, in the block's balanced design order, samples Strong search, Strong
primary-key query and insert→visible lag interleaved server by server at random phases (an exponential pause
before every sample, never back to back), then SIGKILLs them (a throwaway server is killed, not stopped
gracefully: ``stop_method`` says so). ``search_query.ipynb`` takes the same samples on every start pair of
its served build.
"""
from __future__ import annotations

import numpy as np

from mqbench.core import checks, schema, studies
from mqbench.core.errors import ParameterError
from mqbench.core.schema import Notebook
from mqbench.data import ingest
from mqbench.measure.lags import (
    BackgroundWriter,
    ingest_growth,
    kill_and_recover,
    lag_summary,
    tick_samples,
    visibility_lags,
)
from mqbench.measure.workload import CONSISTENCY, Spec
from mqbench.stats import design

NOTEBOOK = Notebook.FRESHNESS_RECOVERY
# per start, the mean: defined for any number of samples (a start's median needs 20); with a censored batch, the
# Kaplan–Meier median
STUDY = studies.declare(studies.Study(NOTEBOOK, compare=("op", "phase", "consistency_level", "batch_rows")))
# what the notebook calls after check(), in order
STEPS = ("tick_study", "lags", "mixed", "growth", "recovery")
TICK_COLLECTION = "tick"


def check(p: dict) -> None:
    design.parse_variants(p["variants"], p["server_overrides"], external=bool(p["uri"]), local_only=NOTEBOOK)

    if p["uri"] and (p["server_overrides"] or p["tick_starts"]):
        raise ParameterError("with uri set, server_overrides and the time-tick study (tick_starts) do not apply; "
                             "set tick_starts = 0 and server_overrides = {}")
    checks.subset("consistency_levels", p["consistency_levels"], CONSISTENCY)
    checks.subset("mixed_consistency_levels", p["mixed_consistency_levels"], CONSISTENCY)
    checks.int_list("batch_rows_list", p["batch_rows_list"])
    for name in ("batches", "dim", "tick_samples", "writer_batch_rows", "mixed_concurrency", "growth_batch_rows",
                 "recovery_batch_rows"):
        checks.integer(name, p[name])
    for name in ("tick_starts", "growth_rows", "recovery_rows"):
        checks.integer(name, p[name], minimum=0)
    for name in ("lag_timeout_s", "mixed_window_s", "recovery_timeout_s", "tick_gap_s"):
        checks.positive_number(name, p[name])
    checks.positive_number("writer_rows_per_s", p["writer_rows_per_s"], allow_zero=True)


def _tick_server(v, dim: int, seed: int) -> None:
    with v.conn.client() as client:
        ingest.flat_collection(client, TICK_COLLECTION, dim)
        client.insert(TICK_COLLECTION, np.arange(100), np.random.default_rng(seed).standard_normal((100, dim),
                                                                                                  dtype=np.float32))


def tick_study(session, p: dict) -> None:
    """``tick_starts`` blocks; each launches one server per variant together in the block's design order,
    samples them interleaved (:func:`mqbench.measure.lags.tick_samples`), and kills them."""
    n = len(design.parse_variants(p["variants"], p["server_overrides"]))
    queries = np.random.default_rng(p["seed"] + 1).standard_normal((20, p["dim"]), dtype=np.float32)
    search = Spec(schema.Op.SEARCH, TICK_COLLECTION, "Strong", queries=queries, k=10)
    query = Spec(schema.Op.QUERY, TICK_COLLECTION, "Strong", n=100, seed=p["seed"])
    for block, order in enumerate(design.block_orders(p["tick_starts"], n, p["seed"] + 7)):
        started = session.start_together(p["variants"], f"tick{block}", p["server_overrides"], order=order)
        ordered = [started[i] for i in order]
        for v in ordered:
            _tick_server(v, p["dim"], p["seed"])
        tick_samples(session, ordered, search, query, TICK_COLLECTION, p["dim"], p["tick_samples"], p["tick_gap_s"],
                     seed=block, first_id=1000, tags={"block": block, "unit": "start"}, timeout_s=p["lag_timeout_s"])
        session.close_variants(kill=True)


def lags(session, variants, p: dict) -> int:
    """Insert→visible per batch size and consistency level, on each variant's server; returns the next id."""
    next_id = 0
    for v in variants:
        with v.conn.client() as client:
            ingest.flat_collection(client, "fresh", p["dim"])
    for rows in p["batch_rows_list"]:
        for level in p["consistency_levels"]:
            (order,) = design.block_orders(1, len(variants), p["seed"] + rows + len(level))
            for i in order:
                v = variants[i]
                with session.track(schema.Op.INSERT_VISIBLE, schema.Phase.FRESHNESS, v, batch_rows=rows,
                                   consistency_level=level) as t, v.conn.client() as client:
                    lags_ = visibility_lags(client, "fresh", p["dim"], rows, p["batches"], level, next_id, p["seed"],
                                            p["lag_timeout_s"])
                    t.extra.update(lag_summary(lags_), raw_file=session.write_raw(
                        f"lag-{rows}-{level}-{v.label}", lags_, **v.columns, batch_rows=rows))
            next_id += rows * p["batches"]
    return next_id


def mixed(session, variants, p: dict, first_id: int) -> None:
    """Search while a background writer inserts at a fixed rate, and without it, per consistency level; the
    writer's rate is the one achieved over the search window."""
    queries = np.random.default_rng(p["seed"] + 1).standard_normal((100, p["dim"]), dtype=np.float32)
    pool = session.client_pool(p["mixed_concurrency"])
    for level in p["mixed_consistency_levels"]:
        spec = Spec(schema.Op.SEARCH, "fresh", level, queries=queries, k=10)
        for rate in (0.0, p["writer_rows_per_s"]):
            (order,) = design.block_orders(1, len(variants), p["seed"] + int(rate) + len(level))
            for i in order:
                v = variants[i]
                with session.track(schema.Op.SEARCH, schema.Phase.MIXED, v, concurrency=p["mixed_concurrency"],
                                   consistency_level=level, writer_target_rows_per_s=rate) as t:
                    if not rate:
                        t.result = pool.closed_loop(spec, p["mixed_concurrency"], p["mixed_window_s"], 1.0, v.label)
                        continue
                    with BackgroundWriter(v.conn, "fresh", p["dim"], rate, p["mixed_window_s"] + 4,
                                          p["writer_batch_rows"], first_id=first_id, seed=p["seed"]) as writer:
                        t.result = pool.closed_loop(spec, p["mixed_concurrency"], p["mixed_window_s"], 1.0, v.label)
                    first_id += writer.result.get("rows", 0)
                    measured = t.result.measured
                    start = int(measured["start_ns"].min())
                    t.extra.update(writer.achieved(start, start + int(p["mixed_window_s"] * 1e9)))


def growth(session, variants, p: dict) -> None:
    """MQ bytes on disk after every batch of a sustained ingest, per variant."""
    for v in variants:
        with v.conn.client() as client:
            client.create_collection("growth", p["dim"])
            store = v.server.mq_store_dirs if v.server else None
            with session.track(schema.Op.INGEST_GROWTH, schema.Phase.INGEST, v, rows=p["growth_rows"]) as t:
                frame = ingest_growth(client, "growth", p["dim"], p["growth_rows"], p["growth_batch_rows"], store,
                                      p["seed"])
                t.extra.update(raw_file=session.write_raw(f"growth-{v.label}", frame, **v.columns))


def recovery(session, variants, p: dict) -> None:
    """Unflushed acknowledged rows, SIGKILL, restart on the same folder: time to serve, to show every row,
    and the acknowledged ids checked one by one."""
    for v in variants:
        if v.server is None:
            continue
        vectors = np.random.default_rng(p["seed"]).standard_normal((p["recovery_rows"], p["dim"]), dtype=np.float32)
        with v.conn.client() as client:
            ingest.flat_collection(client, "recover", p["dim"])
            acked = ingest.insert(client, "recover", vectors, batch_rows=p["recovery_batch_rows"])  # no flush
        with session.track(schema.Op.RECOVERY, schema.Phase.RECOVERY, v, rows=acked) as t:
            t.extra.update(kill_and_recover(v.server, "recover", np.arange(acked), p["recovery_timeout_s"]))
        v.conn = v.server.connection  # the restarted server listens on new free ports
