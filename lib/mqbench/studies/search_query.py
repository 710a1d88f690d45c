"""``search_query.ipynb``: the variants on identical data and one index build, then swept.

Two questions, each with its own unit (docs/measurement.md):

* **Ingest and build** — each variant loads the same rows through its own MQ and builds its own index
  (:func:`build`): insert rows/s, flush, index, compaction and load times, segments, one build per variant
  and run, so these are observations unless a grid repeats the builds (the unit is the build).
* **Run time** — the builds **crossed with the MQs**: every variant's own build (``own_builds``) is copied once
  per variant and served under each variant's MQ (:func:`serve`), so within a start pair only the MQ differs,
  and across start pairs the served build alternates in a balanced order (recorded per row as
  ``build_variant``): no build is drawn by chance, and the MQ × build interaction can be read
  (:func:`mqbench.stats.findings.interaction`). Without ``own_builds`` one build is served: ``builder``'s,
  else the baseline's. Then **pairs of server starts** (:func:`run_starts`): every start pair restarts both
  servers (launch order balanced), checks the rows by a Strong ``count(*)``, records the segments, runs a
  recorded warm-up block, then ``blocks`` interleaved blocks — serial search and primary-key query,
  closed-loop search and query — and the Strong-read and insert→visible samples of the time tick. Every
  run-time verdict is over start pairs (per-start means of the blocks).

**Sweeps** then trace the curves (concurrency, open-loop rates, search parameters, consistency levels,
request shapes, query kinds) on the last start: every point on every variant back to back, in a design order.
"""
from __future__ import annotations

import contextlib
import dataclasses
import shutil
import zlib

import numpy as np

from mqbench.core import checks, schema, studies
from mqbench.core.errors import ParameterError
from mqbench.core.schema import Notebook
from mqbench.data import datasets, ingest, pipeline
from mqbench.measure import lags, workload
from mqbench.measure.workload import ARRIVALS, CONSISTENCY, KINDS, Spec, check_filter
from mqbench.milvus import indexes
from mqbench.milvus.client import POLL_S
from mqbench.milvus.server import EmbeddedMilvus
from mqbench.stats import design

COLLECTION = "mqbench_search_query"
TICK_COLLECTION = "mqbench_tick"  # a small exact collection the insert→visible samples write to
TICK_ROWS = 100
OWN = "own"  # the served build of a run where each variant serves its own (deployments): build_variant
SHAPE_KEYS = ("nq", "k", "filter", "output_fields", "search_params")

NOTEBOOK = Notebook.SEARCH_QUERY
STUDY = studies.declare(studies.Study(NOTEBOOK, compare=("sweep", "op", "phase", "concurrency", "point",
                                                             "consistency_level")))
# what the notebook calls after check(), in order
STEPS = ("prepare", "measure", "pool_size", "run_sweeps")


def check(p: dict) -> None:
    """Raise a ParameterError naming the first bad parameter (what depends on the dataset's dimension is checked
    again by :func:`prepare`, once the data is loaded)."""
    variants = design.parse_variants(p["variants"], p["server_overrides"], external=bool(p["uri"]))
    labels = [v.label for v in variants]
    if p["uri"] and p["server_overrides"]:
        raise ParameterError("server_overrides apply to embedded servers only; unset them or unset uri")
    checks.int_list("concurrency_levels", p["concurrency_levels"])
    for name in ("sweep_window_s", "open_loop_window_s", "block_window_s", "batch_mb"):
        checks.positive_number(name, p[name])
    checks.positive_number("sweep_warmup_s", p["sweep_warmup_s"], allow_zero=True)
    checks.positive_number("delta", p["delta"])
    for name in ("serial_requests", "consistency_requests", "sweep_concurrency", "open_loop_clients", "k",
                 "insert_workers", "blocks", "block_requests", "block_concurrency", "sweep_blocks", "start_pairs"):
        checks.integer(name, p[name])
    checks.integer("tick_samples", p["tick_samples"], minimum=0)
    checks.integer("n", p["n"], minimum=0)  # 0: all of a file dataset
    checks.integer("queries", p["queries"])
    checks.positive_number("idle_window_s", p["idle_window_s"], allow_zero=True)
    if not (isinstance(p["target_recall"], (int, float)) and 0 <= p["target_recall"] <= 1):
        raise ParameterError(f"target_recall must be a recall between 0 and 1 (0: no operating point), got "
                             f"{p['target_recall']!r}")
    if p["target_recall"] and not p["search_param_sweep"]:
        raise ParameterError("target_recall needs search_param_sweep: the settings the operating point is chosen from")
    if p["serve_alone"] and p["uri"]:
        raise ParameterError("serve_alone restarts embedded servers; it does not apply with uri")
    deployed = [v for v in variants if not v.local]
    if deployed and p["serve_alone"]:
        raise ParameterError("serve_alone restarts embedded servers one at a time; it does not apply to deployments")
    fixed = [v.label for v in deployed if not v.restartable]
    if fixed and p["start_pairs"] != 1:
        raise ParameterError(f"deployment {fixed[0]!r} has no restart command, so it is started once: set "
                             "start_pairs: 1 (its blocks are then the unit) or give it a restart command")
    checks.positive_number("tick_gap_s", p["tick_gap_s"])
    if p["builder"] and p["builder"] not in labels:
        raise ParameterError(f"builder {p['builder']!r} is not a variant label; choose one of {labels} or leave it "
                             "empty (chosen per run)")
    checks.integer("warmup_requests", p["warmup_requests"], minimum=0)
    if not isinstance(p["open_loop_rates"], list):
        raise ParameterError(f"open_loop_rates must be a list of requests per second, got {p['open_loop_rates']!r}")
    for rate in p["open_loop_rates"]:
        checks.positive_number("open_loop_rates entry", rate)
    checks.one_of("arrivals", p["arrivals"], ARRIVALS)
    checks.subset("consistency_levels", p["consistency_levels"], CONSISTENCY)
    checks.one_of("consistency", p["consistency"], CONSISTENCY)
    indexes.check_index(p["index_type"], p["index_params"], None, not p["uri"])
    indexes.check_search(p["index_type"], p["search_params"], p["index_params"], p["k"])
    for entry in p["search_param_sweep"]:
        indexes.check_search(p["index_type"], entry, p["index_params"], p["k"], "search_param_sweep entry")
    for shape in p["request_shapes"]:
        unknown = sorted(set(shape) - set(SHAPE_KEYS)) if isinstance(shape, dict) else ["?"]
        if unknown:
            raise ParameterError(f"request_shapes entry {shape!r}: unknown key(s) {unknown}; use {', '.join(SHAPE_KEYS)}")
        indexes.check_search(p["index_type"], shape.get("search_params", p["search_params"]), p["index_params"],
                             shape.get("k", p["k"]), f"search_params of request shape {label(shape)}")
        check_filter(shape.get("filter", ""), f"request_shapes entry {label(shape)}: filter")
    bad = [kind for kind in p["query_kinds"] if kind not in KINDS or kind == "search"]
    if bad:
        raise ParameterError(f"query_kinds entries must be among query, filter_query, count; bad: {bad}")
    check_filter(p["filter_query"], "filter_query")


def label(point: dict) -> str:
    """``{"nq": 10}`` → ``nq=10``; the empty point is ``default``."""
    return ", ".join(f"{k}={v}" for k, v in point.items()) or "default"


def knob_value(index_type: str, params: dict) -> float | None:
    """The value of the index type's recall knob (ef, nprobe, search_list) in ``params``, if set."""
    knob = indexes.INDEXES[index_type].knob
    return float(params[knob]) if knob in params else None


def prepare(session, p: dict):
    """The dataset (first ``n`` rows, exact ground truth), checked parameters, and the request specs."""
    data = datasets.load(p["dataset"], n=p["n"], nq=p["queries"], k=p["k"], metric=p["metric"], dim=p["dim"],
                         seed=p["seed"])
    indexes.check_index(p["index_type"], p["index_params"], data.dim, not p["uri"])  # before a server starts
    session.describe_data(data)
    search = Spec(schema.Op.SEARCH, COLLECTION, p["consistency"], queries=data.queries, k=p["k"],
                  search_params=p["search_params"])
    specs = {schema.Op.SEARCH: search,
             schema.Op.QUERY: Spec(schema.Op.QUERY, COLLECTION, p["consistency"], n=data.n, seed=p["seed"])}
    specs.update({kind: Spec(kind, COLLECTION, p["consistency"], n=data.n, seed=p["seed"], filter=p["filter_query"],
                             limit=p["filter_limit"]) for kind in p["query_kinds"]})
    return data, specs


def own_only(variants) -> bool:
    """Whether each variant serves only its own build: a deployment's data cannot be copied to another server."""
    return not all(v.local for v in variants)


def served_builds(p: dict, variants) -> list[int]:
    """The variants whose builds are served: with ``own_builds`` (or any deployment) every variant's, else
    ``builder``'s if given, else the baseline's — never drawn by chance."""
    if p["own_builds"] or own_only(variants):
        return list(range(len(variants)))
    labels = [v.label for v in variants]
    return [labels.index(p["builder"]) if p["builder"] else 0]


def load_external(session, variants, data, p: dict) -> None:
    """An external server (``uri``): the data loaded once; its one variant is measured in blocks."""
    pipeline.load(session, variants[0], COLLECTION, data, p["index_type"], p["index_params"], batch_mb=p["batch_mb"],
                  workers=p["insert_workers"], compact=p["compact"])


def build(session, data, p: dict):
    """Each variant loads ``data`` through its own MQ and builds its own index, one server at a time in an order
    drawn from the run id (the ingest and build observations; unit: the build). Each served build
    (:func:`served_builds`) also gets the small exact collection of the insert→visible samples; every collection
    is flushed, the server killed with its sessions released. Returns (variants, the variants whose builds are
    served, each with its stopped server)."""
    variants = design.parse_variants(p["variants"], p["server_overrides"])
    served = served_builds(p, variants)  # the builds loaded: every one of them is served
    copies = (sum(v.local for v in variants) if own_only(variants)
              else len(served) * (1 if p["serve_alone"] else len(variants) + 1))
    pipeline.check_room(session, data.n, data.dim, p["index_type"], p["index_params"], servers=copies,
                        compact=p["compact"])
    order = [i for i in design.block_orders(1, len(variants), zlib.crc32(session.context["run_id"].encode()))[0]
             if i in served]
    for i in order:
        v = variants[i]
        session.context["build_variant"] = v.label
        session.start_server(v, f"{v.label}-build")
        pipeline.load(session, v, COLLECTION, data, p["index_type"], p["index_params"], batch_mb=p["batch_mb"],
                      workers=p["insert_workers"], compact=p["compact"])
        record_segments(session, v, schema.Phase.LOAD)
        with v.conn.client(timeout=600) as client:
            ingest.flat_collection(client, TICK_COLLECTION, data.dim)
            client.insert(TICK_COLLECTION, np.arange(TICK_ROWS), _tick_rows(data.dim))
            for name in (COLLECTION, TICK_COLLECTION):
                client.flush(name)
        if not (p["target_recall"] and i == served[0]):  # that one stays up for the operating point
            session.stop_server(v, kill=True, release_sessions=True, keep_data=True)
    return variants, [variants[i] for i in served]


def _tick_rows(dim: int) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((TICK_ROWS, dim), dtype=np.float32)


def record_segments(session, v, phase: str, **tags) -> dict:
    """The collection as the server counts it: a Strong ``count(*)``, its loaded segments and their rows."""
    with session.track(schema.Op.COUNT_ROWS, phase, v, **tags) as t, v.conn.client(timeout=600) as client:
        rows = client.segment_rows(COLLECTION)
        t.extra.update(rows_counted=client.count(COLLECTION), segments=len(rows),
                       segment_rows_min=min(rows, default=0), segment_rows_max=max(rows, default=0))
    return t.row


def operating_point(session, builder, specs, data, p: dict) -> dict:
    """On the first served build, before it is served: serial search at every ``search_param_sweep`` setting
    (the recall–latency curve, sweep ``search_params``), and the specs at the *operating point* — the first
    setting (in the order given, cheapest first) whose recall@k reaches ``target_recall``, else the last one —
    recorded on every later row as ``operating_point``."""
    search, chosen = specs[schema.Op.SEARCH], None
    for sp in p["search_param_sweep"]:
        with session.track(schema.Op.SEARCH, schema.Phase.SERIAL, builder, dataset=data, k=p["k"],
                           sweep=schema.Sweep.SEARCH_PARAMS, point=label(sp),
                           knob=knob_value(p["index_type"], sp)) as t:
            t.result = workload.serial(builder.conn, dataclasses.replace(search, search_params=sp),
                                       p["serial_requests"], p["warmup_requests"])
        chosen = sp
        if t.row.get("recall_at_k", 0) >= p["target_recall"]:
            break
    session.context["operating_point"] = label(chosen)
    return {**specs, schema.Op.SEARCH: dataclasses.replace(search, search_params=chosen)}


def serve_alone(session, variants, builds) -> dict:
    """Each served build's folder itself, served under every variant in turn: one server object per (build,
    variant) on that folder, each starting with its own ``mq.type`` (the data is flushed; switching either way
    restarts cleanly, docs/scale.md), never two at once. Returns {build label: {variant label: server}}."""
    servers = {}
    for b in builds:
        source = b.server
        servers[b.label] = {v.label: EmbeddedMilvus(v.mq, source.base_dir, v.overrides, password=source._password,
                                                    version=v.version) for v in variants}
    session.variants = list(variants)
    return servers


def serve_own(session, variants, builds) -> dict:
    """Each variant's own build on its own server, started again at every start (deployments cannot share their
    data). Returns {:data:`OWN`: {variant label: server}}."""
    session.variants = list(variants)
    return {OWN: {v.label: v.server for v in variants}}


def serve(session, variants, builds) -> dict:
    """Each served build's folder copied once per variant; each copy gets its variant's MQ at its next start (the
    seed's migration path: the data is flushed, so no MQ holds anything the copy needs). Returns {build label:
    {variant label: server}}."""
    servers = {}
    for b in builds:
        source_dir, password = b.server.base_dir, b.server._password
        servers[b.label] = {}
        for v in variants:
            target = session.run_dir / "servers" / session.tag / f"{v.label}-serves-{b.label}"
            with session.track(schema.Op.COPY_BUILD, schema.Phase.LOAD, v, build_from=b.label) as t:
                shutil.copytree(source_dir, target, ignore=lambda d, names: ["logs"] if d == str(source_dir) else [])
                t.extra["copied_bytes"] = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
            servers[b.label][v.label] = EmbeddedMilvus(v.mq, target, v.overrides, password=password,
                                                       version=v.version)
        shutil.rmtree(source_dir / "data", ignore_errors=True)
    session.variants = list(variants)
    return servers


def build_sequence(builds: list, pairs: int, seed: int) -> list:
    """The build each start pair serves: every build equally often (as far as ``pairs`` allows), in a seeded
    balanced order — the first entries of Williams rows, like every other order of the design."""
    return [builds[row[0]] for row in design.block_orders(pairs, len(builds), seed + 13)]


def run_starts(session, variants, servers: dict, specs, data, p: dict) -> None:
    """``start_pairs`` pairs of starts of the served copies, the served build alternating between pairs in a
    balanced seeded order (``servers``: {build: {variant: server}}; recorded as ``build_variant``). In each: both
    servers launched in the pair's design order, the rows counted, a warm-up block (recorded as sweep
    ``warmup``), ``blocks`` blocks, the time-tick samples; then both killed with their sessions released —
    except after the last pair, whose servers stay up for the sweeps. With ``serve_alone`` each server of a pair
    starts, is measured and is killed on its own, in the pair's order (A B, B A, …): one server in memory at a
    time, the pair still the unit."""
    orders = design.block_orders(p["start_pairs"], len(variants), p["seed"] + 11)
    sequence = build_sequence(list(servers), p["start_pairs"], p["seed"])
    for start, order in enumerate(orders):
        served = sequence[start]
        session.context["build_variant"] = served
        for v in variants:
            v.server, v.conn = servers[served][v.label], None
        ordered = [variants[i] for i in order]
        for group in ([[v] for v in ordered] if p["serve_alone"] else [ordered]):
            position = ordered.index(group[0])
            _one_start(session, group, specs, data, p, start, position, start * len(ordered) + position)
            if start < len(orders) - 1 or group is not ordered and group[0] is not ordered[-1]:
                session.close_variants(kill=True, release_sessions=True, forget=False)


def _one_start(session, ordered, specs, data, p: dict, start: int, first_position: int, slot: int) -> None:
    """One start of the servers of ``ordered`` (both at once, or one alone): launched, collections loaded, rows
    counted, an idle window, a warm-up block, the blocks, the time-tick samples (``slot``: which start of
    the run this is, for fresh tick ids)."""
    session.start_pair(ordered, start=start)
    for position, v in enumerate(ordered, first_position):
        # timed: after a restart the load replays the MQ from the channels' checkpoints (at 10^8 rows, minutes)
        with v.conn.client(timeout=3600) as client, session.track(
                schema.Op.LOAD, schema.Phase.LIFECYCLE, v, start=start, block_order=position, poll_s=POLL_S):
            client.load(COLLECTION)
            client.load(TICK_COLLECTION)
        record_segments(session, v, schema.Phase.LIFECYCLE, start=start, block_order=position)
        if p["idle_window_s"]:
            session.idle(v, p["idle_window_s"], start=start, block_order=position)
    tags = {"start": start, "unit": schema.Unit.START if all(v.restartable for v in ordered) else schema.Unit.BLOCK}
    with _block_pool(session, p) as pool:
        run_blocks(session, pool, ordered, specs, data, p, [-1 - start], dict(tags, sweep=schema.Sweep.WARMUP))
        first = start * p["blocks"]
        run_blocks(session, pool, ordered, specs, data, p, range(first, first + p["blocks"]),
                   dict(tags, sweep=schema.Sweep.BLOCKS))
    if p["tick_samples"]:  # fresh ids for every server start (alone, the servers share one tick collection)
        lags.tick_samples(session, ordered, specs[schema.Op.SEARCH], specs[schema.Op.QUERY], TICK_COLLECTION,
                          data.dim, p["tick_samples"], p["tick_gap_s"], seed=p["seed"] + start,
                          first_id=TICK_ROWS + slot * p["tick_samples"],
                          tags=dict(tags, block=start, sweep=schema.Sweep.TICK))


def measure(session, data, specs, p: dict) -> list:
    """The run-time comparison: builds, the served builds crossed with every variant, the start pairs; on an
    external server (``uri``), the data loaded and its one variant measured in ``blocks`` blocks. Returns the
    variants, their servers running (the last start's) for the sweeps."""
    if p["uri"]:
        variants = session.start_variants(p["variants"], uri=p["uri"])
        load_external(session, variants, data, p)
        with _block_pool(session, p) as pool:
            run_blocks(session, pool, variants, specs, data, p, range(p["blocks"]), {"sweep": schema.Sweep.BLOCKS})
        return variants
    variants, builds = build(session, data, p)
    if p["target_recall"]:
        specs.update(operating_point(session, builds[0], specs, data, p))
        session.stop_server(builds[0], kill=True, release_sessions=True, keep_data=True)
    serving = serve_own if own_only(variants) else serve_alone if p["serve_alone"] else serve
    servers = serving(session, variants, builds)
    run_starts(session, variants, servers, specs, data, p)
    return variants


def pool_size(p: dict) -> int:
    return max([*p["concurrency_levels"], p["sweep_concurrency"], p["open_loop_clients"], p["block_concurrency"]])


def _each(session, variants, seed: int, measure) -> None:
    """``measure(variant)`` once per variant, in a design order drawn from ``seed``."""
    (order,) = design.block_orders(1, len(variants), seed)
    for position, i in enumerate(order):
        measure(variants[i], position)


@contextlib.contextmanager
def _block_pool(session, p: dict):
    """The closed-loop clients of one start's blocks, connected to its servers and closed after them."""
    pool = session.client_pool(p["block_concurrency"])
    try:
        yield pool
    finally:
        pool.close()
        session.pools.remove(pool)


def run_blocks(session, pool, ordered, specs, data, p: dict, blocks, tags: dict) -> None:
    """Blocks on the running servers, ``ordered`` as the design drew them. In each block: serial search and
    primary-key query with the variants taking turns request by request (A B, B A, …), then closed-loop search
    and query RPS (``pool``'s clients) with the variants taking turns in 0.1 s time slots (A B B A …). Each block
    gives one observation per variant and metric under the same host conditions; Milvus's series are scraped
    around each measurement, per server."""
    search, lookup = specs[schema.Op.SEARCH], specs[schema.Op.QUERY]
    for block in blocks:
        for spec in (search, lookup):
            with session.interleaved(ordered, spec.kind, schema.Phase.SERIAL, dict(tags, block=block),
                                     dataset=data, k=p["k"]) as out:
                out.update(workload.interleaved({v.label: v.conn for v in ordered}, spec, p["block_requests"],
                                                p["warmup_requests"]))
        for spec in (search, lookup):
            with session.interleaved(ordered, spec.kind, schema.Phase.CONCURRENT, dict(tags, block=block),
                                     concurrency=p["block_concurrency"]) as out:
                out.update(pool.closed_loop_sliced(spec, p["block_concurrency"], p["block_window_s"] * len(ordered),
                                                   p["sweep_warmup_s"], [v.label for v in ordered]))


def _sweep_points(specs, data, p: dict) -> list[tuple]:
    """(sweep, point label, spec, extra tags, serial?, concurrent?) for every point of every sweep."""
    search, lookup = specs[schema.Op.SEARCH], specs[schema.Op.QUERY]
    points = [(schema.Sweep.CONCURRENCY, f"c={c}", spec, {"concurrency": c}, False, True)
              for c in p["concurrency_levels"] for spec in (search, lookup)]
    points += [(schema.Sweep.SEARCH_PARAMS, label(sp), dataclasses.replace(search, search_params=sp),
                {"knob": knob_value(p["index_type"], sp)}, True, True) for sp in p["search_param_sweep"]]
    points += [(schema.Sweep.CONSISTENCY, level, dataclasses.replace(spec, consistency=level),
                {"consistency_level": level}, True, False)
               for level in p["consistency_levels"] for spec in (search, lookup)]
    points += [(schema.Sweep.SHAPE, label(shape), dataclasses.replace(search, **shape), {}, True, True)
               for shape in p["request_shapes"]]
    points += [(schema.Sweep.QUERY_KIND, kind, specs[kind], {}, True, True) for kind in p["query_kinds"]]
    return points


def run_sweeps(session, pool, variants, specs, data, p: dict) -> None:
    """Every sweep point on every variant, back to back in a design order, ``sweep_blocks`` times (curves, not
    verdicts: on the servers of the last start pair; none with ``serve_alone``, where one server is up)."""
    if p["serve_alone"]:
        return
    points = _sweep_points(specs, data, p)
    for block in range(p["sweep_blocks"]):
        for j, (sweep, point, spec, tags, serial, concurrent) in enumerate(points):
            def measure(v, position, sweep=sweep, point=point, spec=spec, tags=tags):
                common = {"sweep": sweep, "point": point, "block": block, "block_order": position}
                extra = {k: t for k, t in tags.items() if k != "concurrency"}
                if serial:
                    n = p["consistency_requests"] if sweep == schema.Sweep.CONSISTENCY else p["serial_requests"]
                    warm = min(p["warmup_requests"], 5) if sweep == schema.Sweep.CONSISTENCY else p["warmup_requests"]
                    # recall@k at the run's k (its ground truth's depth), whatever top-k the shape asks for
                    with session.track(spec.kind, schema.Phase.SERIAL, v, dataset=data, k=p["k"], **common,
                                       **extra) as t:
                        t.result = workload.serial(v.conn, spec, n, warm)
                if concurrent:
                    c = tags.get("concurrency", p["sweep_concurrency"])
                    with session.track(spec.kind, schema.Phase.CONCURRENT, v, concurrency=c, **common, **extra) as t:
                        t.result = pool.closed_loop(spec, c, p["sweep_window_s"], p["sweep_warmup_s"], v.label)
            _each(session, variants, p["seed"] * 1000 + block * 100 + j, measure)
        for r, rate in enumerate(p["open_loop_rates"]):
            def measure(v, position, rate=rate):
                with session.track(schema.Op.SEARCH, schema.Phase.OPEN_LOOP, v, concurrency=p["open_loop_clients"],
                                   sweep=schema.Sweep.OPEN_LOOP, point=f"{rate}/s", block=block,
                                   block_order=position) as t:
                    t.result = pool.open_loop(specs[schema.Op.SEARCH], rate, p["open_loop_window_s"],
                                              p["sweep_warmup_s"], p["arrivals"], seed=p["seed"],
                                              clients=p["open_loop_clients"], target=v.label)
            _each(session, variants, p["seed"] * 1000 + block * 100 + 50 + r, measure)
