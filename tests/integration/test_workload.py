"""Serial and concurrent workloads against a real embedded Milvus (natsmq), tiny data."""
import numpy as np
import pytest

from mqbench import datasets, ingest, workload
from mqbench.server import EmbeddedMilvus


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    data = datasets.synthetic(n=3000, dim=16, nq=30, metric="L2", seed=1, k=10)
    with EmbeddedMilvus("natsmq", tmp_path_factory.mktemp("srv")) as server:
        client = server.connection.client()
        ingest.create_collection(client, "w", 16, "L2")
        ingest.insert(client, "w", data.base, batch_rows=1000, progress=False)
        client.flush("w")
        ingest.build_index(client, "w", "L2", "FLAT", {})
        client.load_collection("w")
        client.close()
        yield server.connection, data


def test_serial_search_recall_and_warmup(loaded):
    conn, data = loaded
    spec = workload.Spec("search", "w", "Strong", queries=data.queries, k=10)
    res = workload.serial(conn, spec, requests=30, warmup=5)
    assert len(res.raw) == 35 and res.raw["warmup"].sum() == 5
    assert res.raw["ok"].all() and len(res.found_ids) == 30
    assert datasets.recall_at_k(res.found_ids, data.neighbors, 10) == pytest.approx(1.0)  # FLAT is exact


def test_concurrent_processes_share_one_window(loaded):
    conn, data = loaded
    spec = workload.Spec("query", "w", "Bounded", n=3000)
    res = workload.concurrent(conn, spec, concurrency=2, duration_s=1.0, warmup_s=0.3)
    measured = res.measured
    assert set(measured["worker"]) == {0, 1}
    assert measured["ok"].all() and res.completed_in_window() > 10
    first = measured.groupby("worker")["start_ns"].min()
    assert (first.max() - first.min()) / 1e6 < 50  # released together on the barrier
    assert res.client_cpu_s > 0 and res.window_s == 1.0


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
