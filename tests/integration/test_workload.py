"""Serial and concurrent workloads against a real embedded Milvus (natsmq), tiny data."""
import numpy as np
import pytest
from mqbench.data import datasets, ingest
from mqbench.measure import workload
from mqbench.milvus.server import EmbeddedMilvus


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    data = datasets.synthetic(n=3000, dim=16, nq=30, metric="L2", seed=1, k=10)
    with EmbeddedMilvus("natsmq", tmp_path_factory.mktemp("srv")) as server:
        with server.connection.client() as client:
            client.create_collection("w", 16, attr=True)
            ingest.insert(client, "w", data.base, batch_rows=1000, show_progress=False)
            client.flush("w")
            client.build_index("w", "L2", "FLAT", {})
            client.load("w")
        yield server.connection, data


def test_serial_search_recall_and_warmup(loaded):
    conn, data = loaded
    spec = workload.Spec("search", "w", "Strong", queries=data.queries, k=10)
    res = workload.serial(conn, spec, requests=30, warmup=5)
    assert len(res.raw) == 35 and res.raw["warmup"].sum() == 5
    assert res.raw["ok"].all() and len(res.found_ids) == 30
    assert data.recall(res.found_ids, 10) == pytest.approx(1.0)  # FLAT is exact


def test_concurrent_processes_share_one_window(loaded):
    conn, data = loaded
    spec = workload.Spec("query", "w", "Bounded", n=3000)
    res = workload.concurrent(conn, spec, concurrency=2, duration_s=1.0, warmup_s=0.3)
    measured = res.measured
    assert set(measured["worker"]) == {0, 1}
    assert measured["ok"].all() and res.completed_in_window() > 10
    first = res.raw.groupby("worker")["start_ns"].min()
    assert (first.max() - first.min()) / 1e9 < 0.3  # released together: both began within the warm-up
    assert res.client_cpu_s > 0 and res.window_s == 1.0 and res.client_span_s >= 1.3  # CPU over warm-up + window


def test_one_pool_serves_closed_and_open_loop_and_every_query_kind(loaded):
    conn, data = loaded
    with workload.ClientPool(conn, 2) as pool:
        pids = [p.pid for p in pool.procs]
        for kind in ["query", "filter_query", "count"]:
            spec = workload.Spec(kind, "w", n=3000, filter="attr < 500", limit=50)
            res = pool.closed_loop(spec, 2, duration_s=0.5, warmup_s=0.1)
            assert res.measured["ok"].all() and res.completed_in_window() > 5, kind
        search = workload.Spec("search", "w", queries=data.queries, k=5, nq=3, filter="attr >= 100",
                               output_fields=["attr"])
        res = pool.open_loop(search, rate=40, duration_s=1.0, warmup_s=0.2, arrivals="constant")
        assert [p.pid for p in pool.procs] == pids  # the same processes, connections made once
    assert not any(p.is_alive() for p in pool.procs or []) and pool.procs == []
    sent = res.measured[res.measured["start_ns"] >= 0]
    assert sent["ok"].all() and set(sent["worker"]) == {0, 1} and res.fields["not_sent"] == 0
    assert len(res.measured) == 40 and res.completed_in_window() >= 38
    assert (sent["start_ns"] - sent["scheduled_ns"]).median() < 20e6  # sent on time when the server keeps up


def test_open_loop_records_the_clients_it_used_not_the_pool(loaded):
    conn, data = loaded
    spec = workload.Spec("search", "w", queries=data.queries, k=5)
    with workload.ClientPool(conn, 3) as pool:
        res = pool.open_loop(spec, rate=30, duration_s=0.5, warmup_s=0.1, arrivals="constant", clients=1)
    assert res.concurrency == 1 and set(res.raw["worker"]) == {0}


def test_open_loop_shows_the_queueing_of_a_server_that_falls_behind(loaded):
    """Strong reads wait for a time tick (~0.2 s), so one client at 20/s falls behind: latency counted from
    the schedule grows far beyond the service time, and what could not be sent is recorded."""
    conn, data = loaded
    spec = workload.Spec("search", "w", "Strong", queries=data.queries, k=5)
    with workload.ClientPool(conn, 1) as pool:
        res = pool.open_loop(spec, rate=20, duration_s=2.0, warmup_s=0.0, arrivals="constant", drain_s=1.0)
    sent = res.measured[res.measured["start_ns"] >= 0]
    assert sent["latency_ns"].max() > 5 * sent["service_ns"].median()
    assert res.fields["not_sent"] > 0 and len(res.measured) == 40  # every scheduled request has a row
    assert res.completed_in_window() < 20


def test_errors_are_counted_not_dropped(loaded):
    conn, _ = loaded
    spec = workload.Spec("query", "no_such_collection", n=10)
    res = workload.serial(conn, spec, requests=3, warmup=0)
    assert (~res.raw["ok"]).sum() == 3 and res.raw["error"].str.len().min() > 0


def test_bad_specs_fail_before_any_request():
    with pytest.raises(ValueError, match="consistency 'Sometimes'"):
        workload.Spec("search", "w", "Sometimes", queries=np.zeros((1, 2)))
    with pytest.raises(ValueError, match="concurrency >= 1"):
        workload.concurrent(None, workload.Spec("query", "w", n=1), concurrency=0, duration_s=1)
