"""The sweeps of ``search_query.ipynb``: every parameter checked before a server starts, and each
sweep variant turned into a request :class:`~mqbench.workload.Spec` with a label for the summary."""
from __future__ import annotations

import dataclasses

from . import indexes
from .workload import ARRIVALS, CONSISTENCY, KINDS, Spec, check_filter

SHAPE_KEYS = ("nq", "k", "filter", "output_fields", "search_params")


def _positive_number(name: str, value, allow_zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} number, got {value!r}")


def _int_list(name: str, values, allow_empty: bool = False) -> None:
    if not isinstance(values, list) or (not values and not allow_empty):
        raise ValueError(f"{name} must be a {'' if allow_empty else 'non-empty '}list, got {values!r}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} entries must be integers >= 1, got {v!r}")


def check(p: dict, dim: int, embedded: bool) -> None:
    """Raise ValueError naming the first bad parameter of a search_query run (``p``: its parameters)."""
    _int_list("concurrency_levels", p["concurrency_levels"])
    for name in ("sweep_window_s", "open_loop_window_s"):
        _positive_number(name, p[name])
    _positive_number("sweep_warmup_s", p["sweep_warmup_s"], allow_zero=True)
    _positive_number("batch_mb", p["batch_mb"])
    for name in ("serial_requests", "consistency_requests", "sweep_concurrency", "open_loop_clients", "k",
                 "insert_workers"):
        _int_list(name, [p[name]])
    _positive_number("warmup_requests", p["warmup_requests"], allow_zero=True)
    if not isinstance(p["open_loop_rates"], list):
        raise ValueError(f"open_loop_rates must be a list of requests per second, got {p['open_loop_rates']!r}")
    for rate in p["open_loop_rates"]:
        _positive_number("open_loop_rates entry", rate)
    if p["arrivals"] not in ARRIVALS:
        raise ValueError(f"arrivals {p['arrivals']!r} is not one of {', '.join(ARRIVALS)}")
    levels = p["consistency_levels"]
    bad = [c for c in levels if c not in CONSISTENCY] if isinstance(levels, list) else levels
    if bad:
        raise ValueError(f"consistency_levels entries must be among {', '.join(CONSISTENCY)}; bad: {bad!r}")
    if p["consistency"] not in CONSISTENCY:
        raise ValueError(f"consistency {p['consistency']!r} is not one of {', '.join(CONSISTENCY)}")
    indexes.check_index(p["index_type"], p["index_params"], dim, embedded)
    indexes.check_search(p["index_type"], p["search_params"], p["index_params"], p["k"])
    for entry in p["search_param_sweep"]:
        indexes.check_search(p["index_type"], entry, p["index_params"], p["k"], "search_param_sweep entry")
    for shape in p["request_shapes"]:
        unknown = sorted(set(shape) - set(SHAPE_KEYS))
        if not isinstance(shape, dict) or unknown:
            raise ValueError(f"request_shapes entry {shape!r}: unknown key(s) {unknown}; use {', '.join(SHAPE_KEYS)}")
        shape_k = shape.get("k", p["k"])
        indexes.check_search(p["index_type"], shape.get("search_params", p["search_params"]), p["index_params"],
                             shape_k, f"search_params of request shape {label(shape)}")
        check_filter(shape.get("filter", ""), f"request_shapes entry {label(shape)}: filter")
    bad = [kind for kind in p["query_kinds"] if kind not in KINDS or kind == "search"]
    if bad:
        raise ValueError(f"query_kinds entries must be among query, filter_query, count; bad: {bad}")
    check_filter(p["filter_query"], "filter_query")


def label(variant: dict) -> str:
    """``{"nq": 10}`` → ``nq=10``; the empty variant is ``default``."""
    return ", ".join(f"{k}={v}" for k, v in variant.items()) or "default"


def shape_spec(search: Spec, shape: dict) -> Spec:
    """The search spec with one request shape applied (nq, k, filter, output_fields, search_params)."""
    return dataclasses.replace(search, **shape)


def knob_value(index_type: str, params: dict) -> float | None:
    """The value of the index type's recall knob (ef, nprobe, search_list) in ``params``, if set."""
    knob = indexes.INDEXES[index_type].knob
    return float(params[knob]) if knob in params else None
