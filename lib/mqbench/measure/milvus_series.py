"""Milvus's own account of a phase: its Prometheus series, scraped before and after, kept as deltas.

Every embedded server serves Prometheus text on its metrics port (``/metrics``). mqbench reads the series
that say where a read waits and how the time tick travels through the MQ, parses them with
``prometheus_client``'s parser, and records per phase:

* histograms (``SERIES``) as the mean over the phase, ``Δsum ÷ Δcount``, and the count ``Δcount`` — the
  requests or calls the server itself timed in that phase;
* gauges (``GAUGES``) as their value at the end of the phase (the last time-tick lag Milvus set);
* for the produce series, the bucket bounds of its p50/p99 and the share of calls above the first bucket
  (``milvus_produce_slow_share``) — the comparison its whole milliseconds can carry.

Milvus 2.3.5 observes these histograms in **whole milliseconds** (``time.Since(..).Milliseconds()``,
truncated): an operation under 1 ms counts as 0, so a mean from these sums is a lower bound, low by about
half a millisecond per call, and calls under a millisecond cannot be told apart at all. The columns say
``_ms`` and are read that way. What each series times is in ``docs/time-tick.md`` and ``docs/pubsub.md``.
"""
from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Series:
    column: str          # summary column (mean over the phase, ms); ``<column>_n`` holds the count
    metric: str          # Prometheus family name
    labels: tuple = ()   # (label, value) pairs a sample must carry; "{op}" is the phase's request kind
    label: str = ""      # what it times, for readers


SERIES = (
    Series("milvus_proxy_sq_ms", "milvus_proxy_sq_latency", (("query_type", "{op}"),),
           "the proxy's whole search/query"),
    Series("milvus_proxy_wait_result_ms", "milvus_proxy_sq_wait_result_latency", (("query_type", "{op}"),),
           "the proxy waiting for the query node's result"),
    Series("milvus_tsafe_wait_ms", "milvus_querynode_sq_wait_tsafe_latency", (("query_type", "{op}"),),
           "the query node waiting for tSafe (the time tick) to pass the request's timestamp"),
    Series("milvus_qn_queue_ms", "milvus_querynode_sq_queue_latency", (("query_type", "{op}"),),
           "the request in the query node's queue"),
    Series("milvus_qn_req_ms", "milvus_querynode_sq_req_latency", (("query_type", "{op}"), ("scope", "OnLeader")),
           "the query node's whole request on the shard leader"),
    Series("milvus_qn_segment_ms", "milvus_querynode_sq_segment_latency", (("query_type", "{op}"),),
           "searching the segments"),
    Series("milvus_produce_ms", "milvus_msgstream_request_latency", (("message_op_type", "produce"),),
           "one produce call of Milvus's MQ client (a message pack) inside the server"),
    Series("milvus_mutation_send_ms", "milvus_proxy_mutation_send_latency", (("msg_type", "insert"),),
           "the proxy sending an insert's messages to the DML channels"),
)
GAUGES = (
    Series("milvus_qn_consume_tt_lag_ms", "milvus_querynode_consume_tt_lag_ms", (),
           "time tick lag: the query node's consumed tick behind now"),
    Series("milvus_dn_consume_tt_lag_ms", "milvus_datanode_consume_tt_lag_ms", (),
           "time tick lag: the data node's consumed tick behind now"),
    Series("milvus_rootcoord_produce_tt_lag_ms", "milvus_rootcoord_produce_tt_lag_ms", (),
           "time tick lag: the root coordinator's produced tick behind now"),
    Series("milvus_proxy_tt_lag_ms", "milvus_proxy_tt_lag_ms", (), "time tick lag at the proxy"),
)
FAMILIES = {s.metric for s in (*SERIES, *GAUGES)}
QUERY_TYPE = {"search": "search", "query": "query", "filter_query": "query", "count": "query"}

Samples = dict[tuple[str, str, tuple], float]  # (family, sample suffix, labels) -> value


def fetch(url: str, timeout_s: float = 5) -> str:
    """The Prometheus text of a server's endpoint (``http://127.0.0.1:<port>/metrics`` for an embedded one); ""
    if there is none or it does not answer."""
    if not url:
        return ""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return ""


def scrape(url: str, timeout_s: float = 5) -> Samples:
    """The series mqbench reads, from a server's Prometheus endpoint; empty if it does not answer."""
    text = fetch(url, timeout_s)
    return parse(text) if text else {}


def _family(line: str) -> str:
    """The family a line of Prometheus text belongs to (``# TYPE name …`` or ``name_sum{…} value``)."""
    if line.startswith("#"):
        parts = line.split(" ", 3)
        return parts[2] if len(parts) > 2 else ""
    name = line.split("{", 1)[0].split(" ", 1)[0]
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name[:-len(suffix)] in FAMILIES:
            return name[:-len(suffix)]
    return name


def parse(text: str) -> Samples:
    """The samples of :data:`FAMILIES` in Prometheus text (other families are skipped before parsing)."""
    keep = "\n".join(line for line in text.splitlines() if _family(line) in FAMILIES)
    out: Samples = {}
    for family in text_string_to_metric_families(keep + "\n"):
        for sample in family.samples:
            suffix = sample.name[len(family.name):]
            out[(family.name, suffix, tuple(sorted(sample.labels.items())))] = float(sample.value)
    return out


def _matching(samples: Samples, metric: str, suffix: str, want: dict) -> float:
    return sum(value for (name, sfx, labels), value in samples.items()
               if name == metric and sfx == suffix and want.items() <= dict(labels).items())


def _wanted(series: Series, op: str) -> dict:
    return {k: v.replace("{op}", QUERY_TYPE.get(op, op)) for k, v in series.labels}


def deltas(before: Samples, after: Samples, op: str = "") -> dict[str, float]:
    """The phase's columns: each histogram's mean (ms) and count over the phase (only where the server timed
    something), each gauge's value at the end. ``op`` picks the request kind of per-kind series."""
    if not before or not after:
        return {}
    out: dict[str, float] = {}
    for series in SERIES:
        want = _wanted(series, op)
        if "{op}" in "".join(v for _, v in series.labels) and op not in QUERY_TYPE:
            continue
        count = _matching(after, series.metric, "_count", want) - _matching(before, series.metric, "_count", want)
        if count > 0:
            total = _matching(after, series.metric, "_sum", want) - _matching(before, series.metric, "_sum", want)
            out[series.column] = total / count
            out[f"{series.column[:-3]}_n"] = count
    for gauge in GAUGES:
        values = [v for (name, _, _), v in after.items() if name == gauge.metric]
        if values:
            out[gauge.column] = max(values)
    produce = next(s for s in SERIES if s.column == "milvus_produce_ms")
    cumulative = buckets(before, after, produce)
    for q in (50, 99):
        bound = bucket_percentile(cumulative, q)
        if bound is not None:
            out[f"milvus_produce_p{q}_le_ms"] = bound
    share = slow_share(cumulative)
    if share is not None:
        out["milvus_produce_slow_share"] = share
    return out


def slow_share(cumulative: list[tuple[float, float]]) -> float | None:
    """The share of a phase's calls above the histogram's first bucket bound (1 ms for Milvus's whole-ms series):
    what a truncated histogram can compare, zeros included; None without calls."""
    total = cumulative[-1][1] if cumulative else 0
    if total <= 0:
        return None
    return float(1 - cumulative[0][1] / total)


def bucket_percentile(cumulative: list[tuple[float, float]], q: float) -> float | None:
    """The upper bound of the histogram bucket holding the ``q``-th percentile — all a bucketed series can say
    ("p99 ≤ 2 ms") — where the sample supports the percentile (n ≥ 10 / (1 − q)); else None."""
    from mqbench.stats.verdicts import min_samples

    total = cumulative[-1][1] if cumulative else 0
    if total < min_samples(q):
        return None
    return next((bound for bound, count in cumulative if count >= q / 100 * total), None)


def buckets(before: Samples, after: Samples, series: Series, op: str = "") -> list[tuple[float, float]]:
    """(upper bound in ms, calls at or below it) of a histogram over the phase, cumulative as Prometheus
    keeps them: what a percentile from this series can resolve."""
    want = _wanted(series, op)
    bounds = sorted({float(dict(labels)["le"]) for (name, sfx, labels) in after
                     if name == series.metric and sfx == "_bucket" and want.items() <= dict(labels).items()})
    return [(bound, _matching(after, series.metric, "_bucket", {**want, "le": _le(bound)})
             - _matching(before, series.metric, "_bucket", {**want, "le": _le(bound)})) for bound in bounds]


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else (str(int(bound)) if bound == int(bound) else str(bound))
