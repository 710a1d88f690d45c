"""The parallel loader against a real embedded Milvus: batches by bytes, and a load SIGKILLed mid-way
resumes from its checkpoint with no id inserted twice and none missing."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from mqbench.core.errors import IngestError
from mqbench.data import datasets, loader
from mqbench.milvus.client import attr_values
from mqbench.milvus.server import EmbeddedMilvus

N, DIM = 40_000, 16
LOAD = """
import sys
from pathlib import Path
from mqbench.data import datasets
from mqbench.data import loader
from mqbench.milvus.server import Connection
conn = Connection(sys.argv[1], "rocksmq", sys.argv[2])
data = datasets.synthetic(n={n}, dim={dim}, nq=1, metric="L2", seed=5)
ckpt = Path(sys.argv[3])
with conn.client() as client:
    resume = loader.open_collection(client, "big", {dim}, ckpt)
stats = loader.load(conn, "big", data.base, batch_mb=0.01, workers=2, checkpoint=ckpt, resume=resume,
                    show_progress=False)
print(stats.rows, stats.resumed_batches, stats.redone_batches)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with EmbeddedMilvus("rocksmq", tmp_path_factory.mktemp("srv")) as srv:
        yield srv


def _loader(server, checkpoint, script):
    conn = server.connection
    return subprocess.Popen([sys.executable, "-c", script, conn.uri, conn.token, str(checkpoint)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _ids_exactly_once(client, name, n, page=5000):
    """count(*) counts duplicates; the ids a query returns per id range must be exactly that range."""
    assert client.count(name) == n
    for start in range(0, n, page):
        where = f"id >= {start} and id < {start + page}"
        count = client.count(name, "Strong", where)
        ids = [row["id"] for row in client.query(name, where, ["id"], limit=page + 10, consistency="Strong")]
        assert count == page and sorted(ids) == list(range(start, start + page)), start


def test_killed_load_resumes_without_duplicates_or_gaps(server, tmp_path):
    script = LOAD.format(n=N, dim=DIM)
    checkpoint = tmp_path / "load.json"
    first = _loader(server, checkpoint, script)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill once a fair part is acknowledged
        if checkpoint.exists() and len(json.loads(checkpoint.read_text())["done"]) >= 20:
            break
        if first.poll() is not None:
            raise AssertionError(f"the loader exited early ({first.returncode}): {first.stderr.read()[-2000:]}")
        time.sleep(0.05)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    state = json.loads(checkpoint.read_text())
    batches = -(-N // state["batch_rows"])
    assert 20 <= len(state["done"]) < batches and state["batch_rows"] == loader.batch_rows_for(DIM, 0.01)
    second = _loader(server, checkpoint, script)
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err[-2000:]
    rows, resumed, redone = map(int, out.split())
    assert resumed == len(state["done"]) and redone == len(state["inflight"])
    assert rows == N - resumed * state["batch_rows"]
    with server.connection.client() as client:
        client.flush("big")
        client.build_index("big", "L2", "FLAT", {})
        client.load("big")
        _ids_exactly_once(client, "big", N)


def test_batches_by_bytes_and_a_checkpoint_of_another_collection_starts_fresh(server, tmp_path):
    data = datasets.synthetic(n=3000, dim=DIM, nq=1, metric="L2", seed=1)
    client = server.connection.client()
    checkpoint = tmp_path / "c.json"
    assert loader.open_collection(client, "small", DIM, checkpoint) is None
    t0 = time.perf_counter()
    stats = loader.load(server.connection, "small", data.base, batch_mb=0.05, workers=3, checkpoint=checkpoint,
                        show_progress=False)
    elapsed = time.perf_counter() - t0
    assert stats.rows == 3000 and stats.batch_rows == int(0.05 * 2**20 // (DIM * 4 + 16))
    assert stats.batches == -(-3000 // stats.batch_rows) and stats.rows_per_s > 0
    # the rate counts from every loader connected: process start-up and imports are not insert time
    assert stats.startup_s > 0 and stats.seconds + stats.startup_s <= elapsed
    assert stats.rows_per_s == pytest.approx(3000 / stats.seconds)
    curve = stats.curve_frame()
    assert curve["rows_acked"].iloc[-1] == 3000 and curve["elapsed_s"].iloc[-1] == pytest.approx(stats.seconds, abs=0.5)
    assert len(json.loads(checkpoint.read_text())["done"]) == stats.batches
    client.drop_collection("small")  # the checkpoint's collection is gone: a new one, loaded from the start
    assert loader.open_collection(client, "small", DIM, checkpoint) is None
    with pytest.raises(IngestError, match="dimension mismatch"):
        loader.load(server.connection, "small", np.zeros((5, 3), np.float32), show_progress=False)
    client.close()


def test_bulk_import_writes_column_files_and_reports_each_task(server, tmp_path):
    from mqbench.data import bulk

    data = datasets.synthetic(n=5000, dim=DIM, nq=1, metric="L2", seed=2)
    client = server.connection.client()
    client.create_collection("bulk", DIM, attr=True)
    stats = bulk.bulk_import(server.connection, "bulk", data.base, None, server.base_dir / "data" / "bulk-test",
                             file_mb=0.1, show_progress=False)
    rows_per_task = int(0.1 * 2**20 // (DIM * 4))
    assert stats.tasks == -(-5000 // rows_per_task) and stats.states == ["Completed"] * stats.tasks
    assert stats.rows == 5000 and stats.rows_per_s > 0
    client.build_index("bulk", "L2", "FLAT", {})
    client.load("bulk")
    _ids_exactly_once(client, "bulk", 5000)
    row = client.query("bulk", "id == 4321", ["attr"], consistency="Strong")[0]
    assert row["attr"] == int(attr_values(np.array([4321]))[0])
    client.close()


def test_prepared_requests_land_whole_and_flush_is_timed(server):
    """Prepared inserts (serialized before the clock, sent as bytes by two threads) land every row exactly once at a
    real width, and the flush returns the seconds it waited."""
    from mqbench.data import prepared

    data = datasets.synthetic(n=3_000, dim=384, nq=1, metric="COSINE", seed=7, ground_truth=False)
    conn = server.connection
    with conn.client() as client:
        client.create_collection("prepared", 384, attr=True)
        ready = prepared.prepare(conn, "prepared", data.base, 3_000, batch_mb=1.0)
        batches = -(-3_000 // loader.batch_rows_for(384, 1.0))
        assert len(ready.requests) == batches and sum(ready.rows) == 3_000 and ready.bytes > 3_000 * 384 * 4
        stats = prepared.send(conn, ready, senders=2, show_progress=False)
        assert stats.rows == 3_000 and len(stats.curve) == batches
        assert client.flush("prepared") > 0
        client.build_index("prepared", "COSINE", "FLAT", {})
        client.load("prepared")
        _ids_exactly_once(client, "prepared", 3_000, page=1_000)
        assert client.query("prepared", "id == 2999", ["attr"], consistency="Strong")[0]["attr"] == \
            int(attr_values(np.array([2999]))[0])


def test_a_prepared_load_too_large_to_hold_is_refused(server, monkeypatch):
    from mqbench.data import prepared

    monkeypatch.setattr(prepared, "MAX_PREPARED_BYTES", 1_000)
    data = datasets.synthetic(n=100, dim=16, nq=1, metric="L2", seed=7, ground_truth=False)
    with server.connection.client() as client:
        client.create_collection("too_large", 16)
    with pytest.raises(IngestError, match="load_method insert"):
        prepared.prepare(server.connection, "too_large", data.base, 100)
