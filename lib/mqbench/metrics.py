"""Metric registry (name, unit, better direction) and the one place percentiles are computed."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    unit: str
    better: str  # "lower" or "higher"


METRICS: dict[str, Metric] = {m.name: m for m in [
    Metric("latency_avg_ms", "mean latency", "ms", "lower"),
    Metric("latency_p50_ms", "p50 latency", "ms", "lower"),
    Metric("latency_p95_ms", "p95 latency", "ms", "lower"),
    Metric("latency_p99_ms", "p99 latency", "ms", "lower"),
    Metric("latency_p999_ms", "p99.9 latency", "ms", "lower"),
    Metric("latency_max_ms", "max latency", "ms", "lower"),
    Metric("service_p50_ms", "p50 service time (from send)", "ms", "lower"),
    Metric("service_p99_ms", "p99 service time (from send)", "ms", "lower"),
    Metric("rps", "requests per second", "1/s", "higher"),
    Metric("target_rps", "open-loop target rate", "1/s", "higher"),
    Metric("recall_at_k", "recall@k (ties count)", "", "higher"),
    Metric("ndcg_at_k", "NDCG@k", "", "higher"),
    Metric("duration_s", "phase duration", "s", "lower"),
    Metric("rows_per_s", "rows per second", "rows/s", "higher"),
    Metric("server_cpu_s", "server CPU time", "s", "lower"),
    Metric("server_rss_peak_mb", "server peak RSS", "MiB", "lower"),
    Metric("mq_storage_bytes", "MQ bytes on disk", "B", "lower"),
    Metric("client_cpu_s", "client CPU time", "s", "lower"),
    Metric("client_cpu_share", "client share of host CPU", "", "lower"),
]}

PERCENTILES = {"latency_p50_ms": 50, "latency_p95_ms": 95, "latency_p99_ms": 99, "latency_p999_ms": 99.9}


def latency_stats(latency_ns, prefix: str = "latency") -> dict[str, float]:
    """Mean, p50/p95/p99/p99.9 and max in ms from pooled raw latencies (ns), as ``<prefix>_p99_ms`` etc.

    Open-loop latency counts from the scheduled send time; ``service`` times count from the actual send.
    """
    lat = np.asarray(latency_ns, dtype=np.float64) / 1e6
    names = {"avg": f"{prefix}_avg_ms", "max": f"{prefix}_max_ms",
             **{name: name.replace("latency", prefix) for name in PERCENTILES}}
    if lat.size == 0:
        return {name: np.nan for name in names.values()}
    stats = {names["avg"]: float(lat.mean()), names["max"]: float(lat.max())}
    values = np.percentile(lat, list(PERCENTILES.values()))
    stats.update({names[name]: float(v) for name, v in zip(PERCENTILES, values)})
    return stats
