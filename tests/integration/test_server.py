"""Real embedded Milvus 2.3.5 under each MQ: start, prove the MQ, use it, stop, leave nothing behind."""
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import grpc
import numpy as np
import psutil
import pytest
from pymilvus import MilvusClient
from pymilvus.exceptions import MilvusException

from mqbench import ingest
from mqbench.server import EmbeddedMilvus, MilvusServerError, external


@pytest.mark.parametrize("mq", ["rocksmq", "natsmq"])
def test_start_verify_use_stop(mq, tmp_path, live_pids):
    before = live_pids()
    server = EmbeddedMilvus(mq, tmp_path / mq, {"natsmq.server.retention.maxAge": 60})
    with server:
        assert server.mq_from_log() == mq
        assert server.pid in live_pids()
        client = server.connection.client()
        ingest.create_collection(client, "c", dim=8, metric="L2")
        vectors = np.random.default_rng(0).standard_normal((500, 8), dtype=np.float32)
        assert ingest.insert(client, "c", vectors, batch_rows=200, progress=False) == 500
        client.flush("c")
        ingest.build_index(client, "c", "L2", "HNSW", {"M": 8, "efConstruction": 32})
        client.load_collection("c")
        hits = client.search("c", data=[vectors[7].tolist()], limit=3, consistency_level="Strong")
        assert hits[0][0]["id"] == 7
        assert client.query("c", filter="id in [3, 4]", consistency_level="Strong")[0]["id"] in (3, 4)
        with pytest.raises(ingest.IngestError, match="dimension mismatch: collection 'c' has dim 8"):
            ingest.insert(client, "c", np.zeros((2, 4), np.float32), progress=False)
        store = server.mq_store_dir
        client.close()
    assert server.stop_method in ("terminated", "killed")
    assert store.exists() and store.name == ("rocksmq" if mq == "rocksmq" else "nats")
    assert live_pids() == before


def test_authentication_is_on_and_two_servers_run_at_once(tmp_path):
    with EmbeddedMilvus("natsmq", tmp_path / "a") as a, EmbeddedMilvus("natsmq", tmp_path / "b") as b:
        assert a.uri != b.uri and a.ports["natsmq"] != b.ports["natsmq"]
        for server in (a, b):
            with pytest.raises((MilvusException, grpc.RpcError), match="(?i)auth"):
                MilvusClient(uri=server.uri, token="root:Milvus", timeout=10).list_collections()
            assert server.connection.client().list_collections() == []
        assert "root:" not in repr(a.connection)


def test_explicit_port_already_taken(tmp_path, live_pids):
    before = live_pids()
    with socket.socket() as sock:
        sock.bind(("", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(MilvusServerError, match=f"port {port} \\(natsmq.server.port\\) is already in use"):
            EmbeddedMilvus("natsmq", tmp_path / "s", [f"natsmq.server.port={port}"]).start()
    assert live_pids() == before


def test_server_dies_with_its_owner(tmp_path):
    """SIGKILL the Python process that started Milvus: the server must not outlive it."""
    script = textwrap.dedent(f"""
        import sys, time
        from mqbench.server import EmbeddedMilvus
        s = EmbeddedMilvus("rocksmq", {str(tmp_path / 's')!r}).start()
        print(s.pid, flush=True)
        time.sleep(600)
    """)
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    pid = int(owner.stdout.readline())
    assert psutil.pid_exists(pid)
    os.kill(owner.pid, signal.SIGKILL)
    owner.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie":
        time.sleep(0.1)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"


def test_external_uri_token_from_env_only(monkeypatch):
    monkeypatch.setenv("MQBENCH_TOKEN", "user:secret")
    conn = external("http://127.0.0.1:1", "natsmq")
    assert conn.token == "user:secret" and "secret" not in repr(conn)
    with pytest.raises(MilvusServerError, match="must start with"):
        external("127.0.0.1:19530", "natsmq")


def test_restart_same_object_keeps_data_and_password_foreign_folder_refused(tmp_path):
    server = EmbeddedMilvus("natsmq", tmp_path / "s", {"common.session.ttl": 10})  # restart waits out the TTL
    with server:
        client = server.connection.client()
        ingest.create_collection(client, "r", dim=4, metric="L2")
        ingest.insert(client, "r", np.ones((10, 4), np.float32), progress=False)
        client.flush("r")
        client.close()
    with server:  # same folder, same password, data still there
        assert server.connection.client().get_collection_stats("r")["row_count"] == 10
    with pytest.raises(MilvusServerError, match="already holds a Milvus deployment"):
        EmbeddedMilvus("natsmq", tmp_path / "s").start()


def test_nats_message_over_max_payload_is_refused_before_publishing(tmp_path):
    from mqbench import pubsub
    from mqbench.nats_server import NatsServer

    with NatsServer(tmp_path / "nats") as nats:
        with pytest.raises(pubsub.PubSubError, match="exceeds the server's max_payload 8388608 B"):
            pubsub.nats_op(nats.url, "big", pubsub.parse_shape("9MB*1"))
        assert nats.proc.poll() is None
    assert nats.stop_method == "terminated"
