"""Milvus's own series: parsed with prometheus_client, kept as per-phase deltas; ports picked outside the kernel's
ephemeral range; insert->visible lags that time out censored, not dropped."""
import pandas as pd
import pytest
from mqbench.measure import milvus_series
from mqbench.measure.lags import lag_summary
from mqbench.milvus import processes

BEFORE = """# HELP milvus_querynode_sq_wait_tsafe_latency latency of search or query waiting for tSafe
# TYPE milvus_querynode_sq_wait_tsafe_latency histogram
milvus_querynode_sq_wait_tsafe_latency_bucket{node_id="2",query_type="search",le="1"} 0
milvus_querynode_sq_wait_tsafe_latency_bucket{node_id="2",query_type="search",le="+Inf"} 2
milvus_querynode_sq_wait_tsafe_latency_sum{node_id="2",query_type="search"} 400
milvus_querynode_sq_wait_tsafe_latency_count{node_id="2",query_type="search"} 2
milvus_querynode_sq_wait_tsafe_latency_sum{node_id="2",query_type="query"} 100
milvus_querynode_sq_wait_tsafe_latency_count{node_id="2",query_type="query"} 1
# TYPE milvus_msgstream_request_latency histogram
milvus_msgstream_request_latency_bucket{message_op_type="produce",le="1"} 30
milvus_msgstream_request_latency_bucket{message_op_type="produce",le="2"} 30
milvus_msgstream_request_latency_bucket{message_op_type="produce",le="+Inf"} 30
milvus_msgstream_request_latency_sum{message_op_type="produce"} 0
milvus_msgstream_request_latency_count{message_op_type="produce"} 30
# TYPE milvus_querynode_consume_tt_lag_ms gauge
milvus_querynode_consume_tt_lag_ms{collection_id="1",msg_type="insert",node_id="2"} 150
# TYPE milvus_unrelated_total counter
milvus_unrelated_total 5
"""


def after() -> str:
    return (BEFORE.replace('query_type="search"} 400', 'query_type="search"} 1000')
            .replace('query_type="search"} 2', 'query_type="search"} 5')
            .replace('le="+Inf"} 2', 'le="+Inf"} 5')
            .replace('produce",le="1"} 30', 'produce",le="1"} 38')
            .replace('produce",le="2"} 30', 'produce",le="2"} 40')
            .replace('produce",le="+Inf"} 30', 'produce",le="+Inf"} 40')
            .replace('_sum{message_op_type="produce"} 0', '_sum{message_op_type="produce"} 3')
            .replace('_count{message_op_type="produce"} 30', '_count{message_op_type="produce"} 40')
            .replace('node_id="2"} 150', 'node_id="2"} 210'))


def test_deltas_are_means_over_the_phase_per_request_kind():
    got = milvus_series.deltas(milvus_series.parse(BEFORE), milvus_series.parse(after()), "search")
    assert got["milvus_tsafe_wait_ms"] == pytest.approx(600 / 3) and got["milvus_tsafe_wait_n"] == 3
    assert got["milvus_produce_ms"] == pytest.approx(0.3) and got["milvus_produce_n"] == 10
    assert got["milvus_qn_consume_tt_lag_ms"] == 210  # a gauge: its value at the end
    query = milvus_series.deltas(milvus_series.parse(BEFORE), milvus_series.parse(after()), "query")
    assert "milvus_tsafe_wait_ms" not in query  # no query was timed in the phase
    assert milvus_series.deltas({}, milvus_series.parse(after()), "search") == {}  # no scrape, no columns


def test_histogram_buckets_say_what_a_percentile_can_resolve():
    produce = next(s for s in milvus_series.SERIES if s.column == "milvus_produce_ms")
    got = milvus_series.buckets(milvus_series.parse(BEFORE), milvus_series.parse(after()), produce)
    assert got == [(1.0, 8.0), (2.0, 10.0), (float("inf"), 10.0)]


def test_other_families_are_skipped():
    assert not any(name.startswith("milvus_unrelated") for name, _, _ in milvus_series.parse(BEFORE))


def test_ports_are_picked_outside_the_ephemeral_range():
    low, high = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    ports = processes.free_ports(13)
    assert len(set(ports)) == 13 and all(p < low or p > high for p in ports)
    processes.release_ports(ports)


def test_a_port_is_not_handed_out_again_until_released():
    """Servers launched together pick their ports before any of them binds: the picks must not overlap."""
    picks = [processes.free_ports(13) for _ in range(40)]
    flat = [port for pick in picks for port in pick]
    assert len(set(flat)) == len(flat) and set(flat) <= processes._HANDED
    for pick in picks:
        processes.release_ports(pick)
    assert not set(flat) & processes._HANDED


def test_a_lag_that_timed_out_is_censored_not_dropped():
    lags = pd.DataFrame({"lag_ms": [200.0, 300.0, 60000.0], "visible": [True, True, False], "ack_ms": [1.0, 1.0, 1.0]})
    got = lag_summary(lags)
    assert got["lags_censored"] == 1 and got["errors"] == 1 and got["count"] == 3
    assert got["lag_avg_ms"] == pytest.approx((200 + 300 + 60000) / 3)  # a lower bound, not the visible ones' mean
