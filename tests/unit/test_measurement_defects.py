"""The measurement defects of the review (issue 14), each pinned by a test that failed before its fix."""
import asyncio
import os
import threading
import time

import numpy as np
import pandas as pd
import pytest
from mqbench.data import datasets
from mqbench.data.formats import ArraySource
from mqbench.measure import mq_ops, remount, resources, workload
from mqbench.measure.lags import BackgroundWriter
from mqbench.milvus.server import EmbeddedMilvus
from mqbench.report import tables
from mqbench.stats import metrics


# 1. recall for quantised indexes: ties are judged on distances recomputed from the base vectors
def test_recall_judges_ties_on_recomputed_distances_not_server_scores():
    base = np.array([[0, 0], [1, 0], [2, 0], [3, 0], [10, 0]], np.float32)
    data = datasets.Dataset("toy", "L2", ArraySource(base), np.array([[0, 0]], np.float32), 5)
    data.neighbors, data.distances = np.array([[0, 1]]), np.array([[0.0, 1.0]])
    # a quantised index returns id 4 (true distance 100) with an approximate score that ties the 2nd neighbour
    assert data.recall([[0, 4]], k=2) == pytest.approx(0.5)
    assert data.recall([[0, 1]], k=2) == 1.0
    tied = np.array([[0, 0], [1, 0], [0, 1]], np.float32)  # id 2 is exactly as close as id 1: a genuine tie
    data2 = datasets.Dataset("tie", "L2", ArraySource(tied), np.array([[0, 0]], np.float32), 3)
    data2.neighbors, data2.distances = np.array([[0, 1]]), np.array([[0.0, 1.0]])
    assert data2.recall([[0, 2]], k=2) == 1.0


# 2. knee: kept up means completing the requests actually scheduled, not reaching the nominal rate
def test_knee_compares_completions_with_the_requests_scheduled_in_the_window():
    rows = [dict(notebook="search_query", variant="natsmq", mq="natsmq", status="ok", op="search", phase="open_loop",
                 sweep="open_loop", concurrency=4, target_rps=200.0, rps=186.0, scheduled=930, completed=930,
                 not_sent=0, latency_p99_ms=9.0, block=0)]  # Poisson drew 930 of a nominal 1000: healthy
    knee = tables.knee(pd.DataFrame(rows))
    assert len(knee) == 1 and knee["knee_target_rps"].iloc[0] == 200.0


# 3a. open loop: one dispatch queue, so a slow request delays no other
def test_open_loop_clients_share_one_dispatch_queue():
    """The first request sent blocks until every other one has been sent: with one queue the other client sends
    them all; with a queue per client, half of them would wait behind it (until its 60 s safety valve)."""
    class FirstWaitsForTheRest:
        def __init__(self):
            self.lock, self.seen, self.rest_sent = threading.Lock(), 0, threading.Event()
            self.released, self.blocked_worker = None, None

        def __call__(self, i):  # i: seq * 7919 + worker
            with self.lock:
                self.seen += 1
                first, last = self.seen == 1, self.seen == 20
            if first:
                self.blocked_worker = i % 7919
                self.released = self.rest_sent.wait(timeout=60)
            elif last:
                self.rest_sent.set()

    requester = FirstWaitsForTheRest()
    counter = type("C", (), {"value": 0, "lock": threading.Lock(), "get_lock": lambda self: self.lock})()
    offsets = (np.arange(20) * 10e6).astype(np.int64)  # 20 requests, 10 ms apart
    start = time.perf_counter_ns()
    drain = start + int(120e9)
    rows = []
    threads = [threading.Thread(target=lambda w=w: rows.extend(workload._run_open(requester, w, start, start, offsets,
                                                                                 drain, counter))) for w in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    raw = pd.DataFrame(rows, columns=workload.RAW_COLUMNS)
    assert len(raw) == 20 and raw["ok"].all() and requester.released  # the other 19 were sent while it waited
    assert (raw["worker"] == requester.blocked_worker).sum() == 1  # all others by the other client, from one queue


# 3b. requests never sent stay in the percentiles, censored at the drain deadline
def test_unsent_requests_count_in_the_latency_percentiles():
    rows = [(0, i, 0, i, 2_000_000, 2_000_000, True, "", False, False) for i in range(30)]
    rows += [(0, 30 + i, 0, -1, 900_000_000, -1, False, workload.NOT_SENT, False, True) for i in range(30)]
    raw = pd.DataFrame(rows, columns=workload.RAW_COLUMNS).assign(in_window=True)
    res = workload.Result(raw, 1.0, 2, 0.1, 1.0, fields={"target_rps": 60.0})
    stats = metrics.summarize(res, cores=2)
    assert stats["latency_max_ms"] == pytest.approx(900.0) and stats["latency_p50_ms"] > 400


# 4. client CPU share is divided by the span it was measured over
def test_client_cpu_share_uses_the_span_of_the_cpu_measurement():
    raw = pd.DataFrame([(0, 0, 0, 0, 1000, 1000, True, "", False, False)], columns=workload.RAW_COLUMNS)
    res = workload.Result(raw.assign(in_window=True), window_s=1.0, concurrency=1, client_cpu_s=1.2, client_span_s=1.2)
    assert metrics.summarize(res, cores=2)["client_cpu_share"] == pytest.approx(0.5)


# 6. the writer's achieved rate is over the search window, not its lifetime
def test_writer_rate_is_measured_over_the_window():
    writer = BackgroundWriter.__new__(BackgroundWriter)
    writer.batch_rows, writer.target = 100, 2000.0
    acks = [int(t * 1e9) for t in np.arange(0, 14, 0.05)]  # 20 batches/s for 14 s
    writer.result = {"rows": 100 * len(acks), "late_batches": 0, "acks_ns": acks, "error": ""}
    got = writer.achieved(int(2e9), int(12e9))
    assert got["writer_achieved_rows_per_s"] == pytest.approx(2000, rel=0.01)


# 7. pub/sub storage per op is the growth over the op; the RocksMQ server store includes _meta_kv;
#    the seed stands beside strict rows only; the model is RocksMQ 2.3's path
def _pubsub_rows():
    rows = []
    for publish, growth in [("strict", 2**30), ("async", 2**31)]:
        for block in range(5):
            rows.append(dict(notebook="pubsub", op="pubsub", phase="broker", shape="5MB*100", variant=f"natsmq · {publish}",
                             mq="natsmq", broker="nats-server", publish=publish, status="ok", s_per_op=2.0,
                             mib_per_s=250.0, server_rss_peak_mib=2048.0, server_cpu_s=1.0, client_cpu_s=0.5,
                             duration_s=2.0, mq_storage_bytes=80e6 + block * growth, mq_storage_growth_bytes=growth,
                             block=block))
    return pd.DataFrame(rows)


def test_table1_storage_is_growth_per_op_and_the_seed_sits_beside_strict_rows_only():
    t1 = tables.table1(_pubsub_rows()).set_index("publish")
    assert t1.loc["strict", "storage_gib_per_op"] == pytest.approx(1.0)
    assert t1.loc["async", "storage_gib_per_op"] == pytest.approx(2.0)
    assert t1.loc["strict", "seed_s_per_op"] == pytest.approx(1.650328186)
    assert np.isnan(t1.loc["async", "seed_s_per_op"])


def test_rocksmq_server_store_counts_its_meta_kv():
    dirs = EmbeddedMilvus("rocksmq", "/tmp/never").mq_store_dirs
    assert [d.name for d in dirs] == ["rocksmq", "rocksmq_meta_kv"]


def test_rocksmq_model_acks_per_page_with_distinct_payloads(tmp_path):
    store = mq_ops.RocksMQModel(tmp_path / "rdb")
    shape = mq_ops.parse_shape("1KB*300")
    payloads = mq_ops.Payloads(shape.size)
    assert payloads[0] != payloads[1] and len(payloads[299]) == 1024
    op = mq_ops.rocksmq_op(store, "t", shape, payloads)
    assert op.received == 300 and not op.error
    meta = {k: v for k, v in store.meta.items()}
    assert not any(k.startswith(b"consumer_current_id") for k in meta)  # the position stays in memory
    assert meta[b"message_size/t"] == str(300 * 1024).encode()
    store.close()


# 8. labels: the seed's "RPS" is not requests per second; its N and host stand beside Table 2
def test_table2_labels_the_seed_rps_and_states_both_contexts():
    rows = [dict(notebook="search_query", variant="rocksmq", mq="rocksmq", status="ok", op="search",
                 phase="concurrent", sweep="blocks", block=b, rps=900.0, data_n=100000) for b in range(5)]
    t2 = tables.table2(pd.DataFrame(rows))
    assert t2["seed_unit"].iloc[0] == "the seed's 'RPS' (definition unknown)" and t2["ours_unit"].iloc[0] == "requests/s"
    text = tables.table2_context(pd.DataFrame(rows), {"host": {"cpu_model": "EPYC", "logical_cores": 2}})
    assert "100,000,000" in text and "M1 Pro" in text and "100,000" in text


def test_bound_by_looks_at_every_op():
    rows = _pubsub_rows()
    rows.loc[rows.index[:2], "client_cpu_s"] = 5.0  # two heavy ops are not the whole story
    t1 = tables.table1(rows).set_index("publish")
    assert t1.loc["strict", "bound_by"] in ("client", "broker") and "client_cpu_of_a_core" in t1


# 9. report tables group by every swept parameter
def test_load_phases_keep_configurations_apart():
    rows = [dict(notebook="scale_curve", variant="natsmq", mq="natsmq", status="ok", op="insert", phase="load",
                 data_n=n, rows_per_s=n / 10, duration_s=10.0) for n in (1000, 2000)]
    table = tables.load_phases(pd.DataFrame(rows))
    assert sorted(table["data_n"]) == [1000, 2000]


# 10. migration checks fail when there is nothing to verify
def test_migration_with_no_rows_fails_its_first_check():
    empty = {"count": 0, "rows_read": 0, "checksum": "e3b0c442", "topk": [], "schema": [], "index": {}}
    checks = remount.compare(empty, dict(empty))
    assert not checks[0]["passed"] and checks[0]["check"] == "rows to verify"
    assert not all(c["passed"] for c in checks)


# 11. pub/sub: unacknowledged publishes are counted without raising on cancelled futures
def test_cancelled_publish_futures_count_as_errors():
    async def scenario():
        loop = asyncio.get_running_loop()
        done, cancelled, failed = loop.create_future(), loop.create_future(), loop.create_future()
        done.set_result("ack")
        cancelled.cancel()
        failed.set_exception(RuntimeError("nak"))
        return mq_ops.unacked([done, cancelled, failed])
    assert asyncio.run(scenario()) == 2


# 12. the sampler with a server that is already gone: empty server columns and the reason, no AttributeError
def test_sampler_survives_a_vanished_server():
    pid = os.getpid() + 10_000_000  # no such process
    sampler = resources.Sampler(pid, store_dir=None).start()
    usage = sampler.stop()
    assert usage.server_cpu_s is None and usage.server_rss_peak_mib is None and "unreadable" in sampler.error
