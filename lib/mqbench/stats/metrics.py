"""The one place latency statistics are computed (names, units and directions: ``mqbench.core.schema.COLUMNS``).

A percentile is given only where the sample supports it — n ≥ 10 / (1 − q): p50 from 20 samples,
p95 from 200, p99 from 1,000, p99.9 from 10,000 (:func:`mqbench.stats.verdicts.min_samples`); otherwise the
value is empty and ``latency_count`` says why.
"""
from __future__ import annotations

import numpy as np

from mqbench.stats.verdicts import min_samples

PERCENTILES = {"latency_p50_ms": 50, "latency_p95_ms": 95, "latency_p99_ms": 99, "latency_p999_ms": 99.9}


def latency_stats(latency_ns, prefix: str = "latency") -> dict[str, float]:
    """Mean, p50/p95/p99/p99.9 (each only where the sample supports it), min and max in ms from pooled raw
    latencies (ns), as ``<prefix>_p99_ms`` etc., and ``<prefix>_count``.

    Open-loop latency counts from the scheduled send time; ``service`` times count from the actual send.
    """
    lat = np.asarray(latency_ns, dtype=np.float64) / 1e6
    names = {"avg": f"{prefix}_avg_ms", "max": f"{prefix}_max_ms", "min": f"{prefix}_min_ms",
             **{name: name.replace("latency", prefix) for name in PERCENTILES}}
    stats = {f"{prefix}_count": int(lat.size)}
    if lat.size == 0:
        return {**stats, **{name: np.nan for name in names.values()}}
    stats.update({names["avg"]: float(lat.mean()), names["max"]: float(lat.max()), names["min"]: float(lat.min())})
    for name, q in PERCENTILES.items():
        stats[names[name]] = float(np.percentile(lat, q)) if lat.size >= min_samples(q) else np.nan
    return stats


def summarize(res, cores: int) -> dict:
    """The summary fields of one workload Result: counts, RPS over the window, client CPU share over the
    span the CPU was measured on, and latency statistics over the measured requests that completed
    (open loop: also the never-sent ones, censored at the drain deadline, so overload keeps its tail)."""
    measured = res.measured
    counted = measured[measured["ok"] | measured["censored"]]
    out = {"count": len(measured), "errors": int((~measured["ok"]).sum()),
           "warmup_count": int(res.raw["warmup"].sum()), "window_s": res.window_s,
           "rps": res.completed_in_window() / res.window_s if res.window_s > 0 else float("nan"),
           "client_cpu_s": res.client_cpu_s,
           "client_cpu_share": res.client_cpu_s / (res.client_span_s * cores) if res.client_span_s > 0 else None,
           **latency_stats(counted["latency_ns"])}
    if "target_rps" in res.fields:  # open loop: latency counts from the schedule, service time from the send
        sent = measured[measured["ok"]]
        out.update(latency_stats(sent["service_ns"], "service"))
    return out


def km_median(times, observed) -> float:
    """The Kaplan–Meier median of ``times`` where ``observed`` is False for a censored one; NaN when the
    survival curve never falls to one half (half or more censored before the median). With every batch censored
    at the same timeout (type I), it is the sample median with censored batches sorted last."""
    from statsmodels.duration.survfunc import SurvfuncRight

    times, observed = np.asarray(times, float), np.asarray(observed, bool)
    if not len(times) or not observed.any():
        return float("nan")
    median = SurvfuncRight(times, observed.astype(int)).quantile(0.5)
    return float(median) if np.isfinite(median) else float("nan")
