"""Calibration of every verdict path, through the code a report uses (:func:`mqbench.stats.findings.findings`).

Each *path* simulates the summary rows of one run, shaped like a real notebook's, with the structure that
makes units dependent in practice: offsets per index build and per server start (at the sizes the published
variance components show), host drift shared by a block, heavy tails, an MQ × build interaction, censored
lags, failures that cluster in one start, whole-millisecond counters. ``effect`` is the contender's true
ratio (a difference in points for shares); 1 is an A/A run. Many runs are stacked into one summary (each its
own ``run_id``, so its own family) and decided at once.

``tests/unit/test_calibration.py`` checks the false-alarm rate of every path at ``effect = 1`` over 20 seeds;
``tests/benchmarks/bench_calibration.py`` prints the power curves.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from mqbench.core.schema import Verdict
from mqbench.stats import findings
from mqbench.stats.metrics import km_median

VARIANTS = (("rocksmq", 0), ("natsmq", 1))
SD_START = 0.04   # per server start, in log (published sd per start: 0.057 and 0.093, blocks included)
SD_BUILD = 0.03   # per index build
SD_DRIFT = 0.02   # host drift shared by one block
SD_ROW = 0.03     # per measurement


def _noise(rng, sd: float, size=None, heavy: bool = False):
    """Normal noise, or Student-t with 3 degrees of freedom scaled to the same sd (heavy tails)."""
    if heavy:
        return rng.standard_t(3, size) * sd / np.sqrt(3)
    return rng.normal(0, sd, size)


def start_pairs(rng, effect: float = 1.0, starts: int = 6, blocks: int = 2, heavy: bool = True,
                interaction: float = 0.03) -> list[dict]:
    """``search_query``'s start pairs: two builds crossed with both MQs, the build alternating by start pair, an
    offset per build and per start, a drift per block, noise per row; the MQ effect is ``effect`` × exp(±
    ``interaction``) on the two builds (so the effect depends on the build, and averages to ``effect``)."""
    phases = {("search", "serial"): ["latency_avg_ms", "latency_p50_ms"],
              ("query", "serial"): ["latency_avg_ms", "latency_p50_ms"],
              ("search", "concurrent"): ["latency_avg_ms", "rps"], ("query", "concurrent"): ["latency_avg_ms", "rps"]}
    builds = {"rocksmq": _noise(rng, SD_BUILD), "natsmq": _noise(rng, SD_BUILD)}
    rows = []
    for start in range(starts):
        build = ("rocksmq", "natsmq")[start % 2]
        offsets = _noise(rng, SD_START, 2, heavy)
        mq = np.log(effect) + (interaction if start % 2 else -interaction)
        for b in range(blocks):
            for (op, phase), metrics in phases.items():
                drift = _noise(rng, SD_DRIFT, heavy=heavy)
                for (variant, index), offset in zip(VARIANTS, offsets):
                    log = builds[build] + offset + drift + (mq if index else 0.0)
                    values = {m: (1000 * np.exp(-log) if m == "rps" else 2.0 * np.exp(log))
                              * np.exp(_noise(rng, SD_ROW, heavy=heavy)) for m in metrics}
                    rows.append({"notebook": "search_query", "variant": variant, "mq": variant, "variant_index": index,
                                 "sweep": "blocks", "op": op, "phase": phase, "concurrency": 4 if phase == "concurrent"
                                 else 0, "consistency_level": "Bounded", "unit": "start", "start": start,
                                 "block": start * blocks + b, "build_variant": build, "count": 50, "errors": 0,
                                 **values})
    return rows


def blocks(rng, effect: float = 1.0, ops: int = 5, heavy: bool = True) -> list[dict]:
    """``pubsub``'s broker level: ops in blocks on brokers side by side (an op is the unit), three shapes."""
    rows = []
    for shape, seconds in (("5MB*100", 2.0), ("1MB*500", 1.5), ("64KB*10000", 3.0)):
        for block in range(ops):
            drift = _noise(rng, SD_DRIFT * 2, heavy=heavy)
            for variant, index in VARIANTS:
                value = seconds * np.exp(drift + _noise(rng, SD_ROW * 2, heavy=heavy)) * (effect if index else 1.0)
                rows.append({"notebook": "pubsub", "variant": variant, "mq": variant, "variant_index": index,
                             "op": "pubsub", "phase": "broker", "shape": shape, "block": block, "s_per_op": value})
    return rows


def builds(rng, effect: float = 1.0, repeats: int = 5, heavy: bool = True, warmup: bool = True) -> list[dict]:
    """A grid of builds (``scale_curve`` ingest): one build per MQ and repeat on a fresh server, its insert rate with
    a build offset; the flush timed by a 0.5 s poll (no ratio verdict); a cold warm-up build first (repeat −1,
    slower by 30%), which must never count."""
    rows = []
    for repeat in range(-1 if warmup else 0, repeats):
        for variant, index in VARIANTS:
            cold = 0.3 if repeat < 0 else 0.0
            rate = 450_000 * np.exp(-cold + _noise(rng, SD_BUILD, heavy=heavy)) * (effect if index else 1.0)
            flush = 0.5 * np.ceil(3.0 * np.exp(_noise(rng, 0.2)) / 0.5)  # whole polls of 0.5 s
            common = {"notebook": "scale_curve", "variant": variant, "mq": variant, "variant_index": 0,
                      "repeat": repeat, "phase": "load", "rows": 10_000_000}
            rows += [{**common, "op": "insert", "rows_per_s": rate}, {**common, "op": "flush", "duration_s": flush}]
    return rows


def tick(rng, effect: float = 1.0, starts: int = 8, samples: int = 6, censor: float = 0.03,
         timeout_ms: float = 2000.0) -> list[dict]:
    """``freshness_recovery``'s time-tick study: per server start a phase offset of the ~200 ms tick, ``samples``
    insert→visible lags, each censored at the timeout with probability ``censor``; the per-start mean (a lower
    bound when censored) and Kaplan–Meier median."""
    rows = []
    for start in range(starts):
        for variant, index in VARIANTS:
            phase = rng.uniform(0, 200)
            lag = (phase + rng.uniform(0, 200, samples) + 20) * (effect if index else 1.0)
            seen = rng.random(samples) >= censor
            lag = np.where(seen, lag, timeout_ms)
            median = km_median(lag, seen) if not seen.all() else float(np.median(lag))
            rows.append({"notebook": "freshness_recovery", "variant": variant, "mq": variant, "variant_index": index,
                         "op": "insert_visible", "phase": "tick", "consistency_level": "Strong", "batch_rows": 1,
                         "unit": "start", "start": start, "block": start, "lag_avg_ms": float(lag.mean()),
                         "lag_km_median_ms": median, "lags_censored": int((~seen).sum()),
                         "lag_median_censored": int(not np.isfinite(median)), "count": samples,
                         "errors": int((~seen).sum())})
    return rows


def failures(rng, effect: float = 1.0, starts: int = 6, burst: float = 0.15) -> list[dict]:
    """Failed requests that cluster by server start: in a start, each server breaks with probability ``burst``
    (× ``effect`` for the contender) and then fails a run of requests; otherwise none fail."""
    rows = []
    for start in range(starts):
        for variant, index in VARIANTS:
            broken = rng.random() < min(1.0, burst * (effect if index else 1.0))
            rows.append({"notebook": "search_query", "variant": variant, "mq": variant, "variant_index": index,
                         "sweep": "blocks", "op": "search", "phase": "serial", "concurrency": 0,
                         "consistency_level": "Bounded", "unit": "start", "start": start, "block": start,
                         "count": 100, "errors": int(rng.poisson(20)) if broken else 0,
                         "latency_avg_ms": 2.0 * np.exp(rng.normal(0, SD_START))})
    return rows


def pubsub_milvus(rng, effect: float = 1.0, starts: int = 5) -> list[dict]:
    """``pubsub`` through Milvus over start pairs: each op rides the time tick (a phase per start), Milvus's produce
    histogram in whole milliseconds (a mean under 1 ms: no ratio verdict) and its share of calls above 1 ms (a
    difference; ``effect`` − 1 is added to the contender's share, in points ÷ 100)."""
    rows = []
    for shape, seconds, share in (("1MB*50", 1.0, 0.30), ("64KB*500", 0.8, 0.05), ("1KB*1000", 0.6, 0.0)):
        for start in range(starts):
            for variant, index in VARIANTS:
                calls = 600
                p = np.clip(share + rng.normal(0, 0.03) * (share > 0) + (effect - 1 if index else 0.0), 0, 1)
                slow = rng.binomial(calls, p)
                tick_phase = rng.uniform(0, 0.2)
                rows.append({"notebook": "pubsub", "variant": variant, "mq": variant, "variant_index": index,
                             "op": "pubsub", "phase": "milvus", "shape": shape, "unit": "start", "start": start,
                             "block": start, "s_per_op": (seconds + tick_phase) * np.exp(rng.normal(0, SD_ROW))
                             * (effect if index else 1.0),
                             "milvus_produce_ms": slow / calls * 1.0, "milvus_produce_slow_share": slow / calls})
    return rows


PATHS: dict[str, Callable] = {"start pair": start_pairs, "block": blocks, "build": builds, "tick": tick,
                              "error rate": failures, "pubsub through Milvus": pubsub_milvus}


def runs(path: str, seed: int, n: int, effect: float = 1.0) -> pd.DataFrame:
    """``n`` simulated runs of ``path`` stacked into one summary, each its own ``run_id``."""
    rng = np.random.default_rng(seed)
    make = PATHS[path]
    rows = [{**row, "run_id": f"sim-{seed}-{i}", "status": "ok"} for i in range(n) for row in make(rng, effect)]
    return pd.DataFrame(rows)


def verdict_rates(path: str, seed: int, n: int, effect: float = 1.0) -> dict:
    """Of ``n`` runs: the share with any *different*, and the share of decided comparisons (different or
    equivalent) among those with an interval or a test."""
    table = findings.findings(runs(path, seed, n, effect))
    per_run = table.groupby("run_id")["verdict"]
    tested = table[table["p_value"].notna()]
    return {"path": path, "effect": effect, "runs": n,
            "any_different": int(per_run.apply(lambda v: (v == Verdict.DIFFERENT).any()).sum()),
            "comparisons": len(tested),
            "different": int((tested["verdict"] == Verdict.DIFFERENT).sum()),
            "equivalent": int((tested["verdict"] == Verdict.EQUIVALENT).sum())}
