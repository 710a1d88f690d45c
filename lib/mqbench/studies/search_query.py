"""``search_query.ipynb``: the variants side by side on identical data, measured in paired blocks, then swept.

Every variant (an MQ plus overrides) gets its own embedded Milvus, loaded with the same ids, vectors
and index parameters. **Blocks** give the verdicts: in each block every variant is measured once —
serial search and primary-key query latency, closed-loop search and query RPS — in a balanced
seeded order (:mod:`mqbench.design`); each block is one paired observation per metric.
**Sweeps** then trace the curves (concurrency, open-loop rates, search parameters, consistency
levels, request shapes, query kinds): every point is measured on every variant back to back in a
design order, ``sweep_blocks`` times.
"""
from __future__ import annotations

import dataclasses
import time

from .. import checks, datasets, design, indexes, pipeline, schema, workload
from ..errors import ParameterError
from ..workload import ARRIVALS, CONSISTENCY, KINDS, Spec, check_filter

COLLECTION = "mqbench_search_query"
SHAPE_KEYS = ("nq", "k", "filter", "output_fields", "search_params")


def check(p: dict, dim: int) -> None:
    """Raise a ParameterError naming the first bad parameter (``dim``: the dataset's dimension)."""
    design.parse_variants(p["variants"], p["server_overrides"], external=bool(p["uri"]))
    if p["uri"] and p["server_overrides"]:
        raise ParameterError("server_overrides apply to embedded servers only; unset them or unset uri")
    checks.int_list("concurrency_levels", p["concurrency_levels"])
    for name in ("sweep_window_s", "open_loop_window_s", "block_window_s", "batch_mb"):
        checks.positive_number(name, p[name])
    checks.positive_number("sweep_warmup_s", p["sweep_warmup_s"], allow_zero=True)
    checks.positive_number("delta", p["delta"])
    for name in ("serial_requests", "consistency_requests", "sweep_concurrency", "open_loop_clients", "k",
                 "insert_workers", "blocks", "block_requests", "block_concurrency", "sweep_blocks"):
        checks.integer(name, p[name])
    checks.integer("warmup_requests", p["warmup_requests"], minimum=0)
    if not isinstance(p["open_loop_rates"], list):
        raise ParameterError(f"open_loop_rates must be a list of requests per second, got {p['open_loop_rates']!r}")
    for rate in p["open_loop_rates"]:
        checks.positive_number("open_loop_rates entry", rate)
    checks.one_of("arrivals", p["arrivals"], ARRIVALS)
    checks.subset("consistency_levels", p["consistency_levels"], CONSISTENCY)
    checks.one_of("consistency", p["consistency"], CONSISTENCY)
    indexes.check_index(p["index_type"], p["index_params"], dim, not p["uri"])
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
    check(p, data.dim)  # every bad parameter fails here, before a server starts
    session.describe_data(data)
    search = Spec(schema.OP_SEARCH, COLLECTION, p["consistency"], queries=data.queries, k=p["k"],
                  search_params=p["search_params"])
    specs = {schema.OP_SEARCH: search,
             schema.OP_QUERY: Spec(schema.OP_QUERY, COLLECTION, p["consistency"], n=data.n, seed=p["seed"])}
    specs.update({kind: Spec(kind, COLLECTION, p["consistency"], n=data.n, seed=p["seed"], filter=p["filter_query"],
                             limit=p["filter_limit"]) for kind in p["query_kinds"]})
    return data, specs


def load(session, variants, data, p: dict) -> None:
    """The same data, index and parameters into every variant's server, in a seeded order."""
    pipeline.check_room(session, data.n, data.dim, p["index_type"], p["index_params"], servers=len(variants))
    (order,) = design.block_orders(1, len(variants), p["seed"])
    for i in order:
        pipeline.load(session, variants[i], COLLECTION, data, p["index_type"], p["index_params"],
                      batch_mb=p["batch_mb"], workers=p["insert_workers"], compact=p["compact"])


def pool_size(p: dict) -> int:
    return max([*p["concurrency_levels"], p["sweep_concurrency"], p["open_loop_clients"], p["block_concurrency"]])


def _each(session, variants, seed: int, measure) -> None:
    """``measure(variant)`` once per variant, in a design order drawn from ``seed``."""
    (order,) = design.block_orders(1, len(variants), seed)
    for position, i in enumerate(order):
        measure(variants[i], position)


def run_blocks(session, pool, variants, specs, data, p: dict) -> None:
    """The paired blocks. In each block, in the block's balanced order: serial search and primary-key query
    with the variants taking turns request by request (A B, B A, …), then closed-loop search and query RPS with
    the variants taking turns in 0.1 s time slots (A B B A …). Each block gives one observation per variant and
    metric, measured under the same host conditions."""
    search, lookup = specs[schema.OP_SEARCH], specs[schema.OP_QUERY]
    for block, order in enumerate(design.block_orders(p["blocks"], len(variants), p["seed"])):
        ordered = [variants[i] for i in order]
        tags = {"sweep": schema.SWEEP_BLOCKS, "block": block, "interleaved": True}
        for spec in (search, lookup):
            t0 = time.perf_counter()
            res = workload.interleaved({v.label: v.conn for v in ordered}, spec, p["block_requests"],
                                       p["warmup_requests"])
            for position, v in enumerate(ordered):
                _record(session, v, spec.kind, schema.PHASE_SERIAL, res[v.label], time.perf_counter() - t0,
                        dict(tags, block_order=position), dataset=data, k=p["k"])
        for spec in (search, lookup):
            t0 = time.perf_counter()
            res = pool.closed_loop_sliced(spec, p["block_concurrency"], p["block_window_s"] * len(ordered),
                                          p["sweep_warmup_s"], [v.label for v in ordered])
            for position, v in enumerate(ordered):
                _record(session, v, spec.kind, schema.PHASE_CONCURRENT, res[v.label], time.perf_counter() - t0,
                        dict(tags, block_order=position), concurrency=p["block_concurrency"])


def _record(session, variant, op: str, phase: str, result, seconds: float, tags: dict, **kwargs) -> None:
    """A measurement made with the variants interleaved, recorded as each variant's row (its duration is the
    interleaved span's; server resources cannot be told apart, so they are left out)."""
    with session.track(op, phase, variant, **kwargs, **tags) as t:
        t.result = result
        t.extra.update(duration_s=seconds, server_cpu_s=None, server_rss_peak_mib=None)


def _sweep_points(specs, data, p: dict) -> list[tuple]:
    """(sweep, point label, spec, extra tags, serial?, concurrent?) for every point of every sweep."""
    search, lookup = specs[schema.OP_SEARCH], specs[schema.OP_QUERY]
    points = [(schema.SWEEP_CONCURRENCY, f"c={c}", spec, {"concurrency": c}, False, True)
              for c in p["concurrency_levels"] for spec in (search, lookup)]
    points += [(schema.SWEEP_SEARCH_PARAMS, label(sp), dataclasses.replace(search, search_params=sp),
                {"knob": knob_value(p["index_type"], sp)}, True, True) for sp in p["search_param_sweep"]]
    points += [(schema.SWEEP_CONSISTENCY, level, dataclasses.replace(spec, consistency=level),
                {"consistency_level": level}, True, False)
               for level in p["consistency_levels"] for spec in (search, lookup)]
    points += [(schema.SWEEP_SHAPE, label(shape), dataclasses.replace(search, **shape), {}, True, True)
               for shape in p["request_shapes"]]
    points += [(schema.SWEEP_QUERY_KIND, kind, specs[kind], {}, True, True) for kind in p["query_kinds"]]
    return points


def run_sweeps(session, pool, variants, specs, data, p: dict) -> None:
    """Every sweep point on every variant, back to back in a design order, ``sweep_blocks`` times."""
    points = _sweep_points(specs, data, p)
    for block in range(p["sweep_blocks"]):
        for j, (sweep, point, spec, tags, serial, concurrent) in enumerate(points):
            def measure(v, position, sweep=sweep, point=point, spec=spec, tags=tags):
                common = {"sweep": sweep, "point": point, "block": block, "block_order": position}
                extra = {k: t for k, t in tags.items() if k != "concurrency"}
                if serial:
                    n = p["consistency_requests"] if sweep == schema.SWEEP_CONSISTENCY else p["serial_requests"]
                    warm = min(p["warmup_requests"], 5) if sweep == schema.SWEEP_CONSISTENCY else p["warmup_requests"]
                    # recall@k at the run's k (its ground truth's depth), whatever top-k the shape asks for
                    with session.track(spec.kind, schema.PHASE_SERIAL, v, dataset=data, k=p["k"], **common,
                                       **extra) as t:
                        t.result = workload.serial(v.conn, spec, n, warm)
                if concurrent:
                    c = tags.get("concurrency", p["sweep_concurrency"])
                    with session.track(spec.kind, schema.PHASE_CONCURRENT, v, concurrency=c, **common, **extra) as t:
                        t.result = pool.closed_loop(spec, c, p["sweep_window_s"], p["sweep_warmup_s"], v.label)
            _each(session, variants, p["seed"] * 1000 + block * 100 + j, measure)
        for r, rate in enumerate(p["open_loop_rates"]):
            def measure(v, position, rate=rate):
                with session.track(schema.OP_SEARCH, schema.PHASE_OPEN_LOOP, v, concurrency=p["open_loop_clients"],
                                   sweep=schema.SWEEP_OPEN_LOOP, point=f"{rate}/s", block=block,
                                   block_order=position) as t:
                    t.result = pool.open_loop(specs[schema.OP_SEARCH], rate, p["open_loop_window_s"],
                                              p["sweep_warmup_s"], p["arrivals"], seed=p["seed"],
                                              clients=p["open_loop_clients"], target=v.label)
            _each(session, variants, p["seed"] * 1000 + block * 100 + 50 + r, measure)
