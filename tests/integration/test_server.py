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
from mqbench.core.errors import IngestError, ServerError
from mqbench.data import ingest
from mqbench.milvus.server import EmbeddedMilvus, external
from pymilvus import MilvusClient
from pymilvus.exceptions import MilvusException


@pytest.mark.parametrize("mq", ["rocksmq", "natsmq"])
def test_start_verify_use_stop(mq, tmp_path, live_pids):
    before = live_pids()
    server = EmbeddedMilvus(mq, tmp_path / mq, {"natsmq.server.retention.maxAge": 60})
    with server:
        assert server.mq_from_log() == mq
        assert server.pid in live_pids()
        client = server.connection.client()
        client.create_collection("c", 8)
        vectors = np.random.default_rng(0).standard_normal((500, 8), dtype=np.float32)
        assert ingest.insert(client, "c", vectors, batch_rows=200, show_progress=False) == 500
        client.flush("c")
        client.build_index("c", "L2", "HNSW", {"M": 8, "efConstruction": 32})
        client.load("c")
        assert client.search("c", vectors[7:8], 3, consistency="Strong")[0][0] == 7
        assert client.query("c", "id in [3, 4]", consistency="Strong")[0]["id"] in (3, 4)
        with pytest.raises(IngestError, match="dimension mismatch: collection 'c' has dim 8"):
            ingest.insert(client, "c", np.zeros((2, 4), np.float32), show_progress=False)
        stores = server.mq_store_dirs
        client.close()
    assert server.stop_method in ("terminated", "killed")
    assert all(store.exists() for store in stores)
    assert [s.name for s in stores] == (["rocksmq", "rocksmq_meta_kv"] if mq == "rocksmq" else ["nats"])
    assert live_pids() == before


def test_authentication_is_on_and_two_servers_run_at_once(tmp_path):
    with EmbeddedMilvus("natsmq", tmp_path / "a") as a, EmbeddedMilvus("natsmq", tmp_path / "b") as b:
        assert a.uri != b.uri and a.ports["natsmq"] != b.ports["natsmq"]
        for server in (a, b):
            with pytest.raises((MilvusException, grpc.RpcError), match="(?i)auth"):
                MilvusClient(uri=server.uri, token="root:Milvus", timeout=10).list_collections()
            with server.connection.client() as client:
                assert client.list_collections() == []
        assert "root:" not in repr(a.connection)


def test_explicit_port_already_taken(tmp_path, live_pids):
    before = live_pids()
    with socket.socket() as sock:
        sock.bind(("", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(ServerError, match=f"port {port} \\(natsmq.server.port\\) is already in use"):
            EmbeddedMilvus("natsmq", tmp_path / "s", [f"natsmq.server.port={port}"]).start()
    assert live_pids() == before


def test_a_proxy_port_taken_between_pick_and_bind_is_picked_again(tmp_path, live_pids, monkeypatch):
    """Another process binds the picked proxy port first (here: this one): the start goes again on new ports,
    never talking to the port's holder (a gRPC UNIMPLEMENTED when another Milvus held it)."""
    before = live_pids()
    from mqbench.milvus import server as server_module
    picks = []

    def pick(count):
        picks.append(server_module.processes.free_ports(count))
        if len(picks) == 1:
            picks[0][2] = port  # "proxy", the third name of the config's ports
        return picks[-1]

    with socket.socket() as sock:
        sock.bind(("", 0))
        sock.listen()
        port = sock.getsockname()[1]
        monkeypatch.setattr(server_module, "free_ports", pick)
        with EmbeddedMilvus("rocksmq", tmp_path / "s") as server:
            assert server.start_retries == 1 and server.ports["proxy"] != port
            with server.connection.client() as client:
                assert client.list_collections() == []
    assert live_pids() == before


def test_server_dies_with_its_owner(tmp_path):
    """SIGKILL the Python process that started Milvus: the server must not outlive it."""
    script = textwrap.dedent(f"""
        import sys, time
        from mqbench.milvus.server import EmbeddedMilvus
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
    with pytest.raises(ServerError, match="must start with"):
        external("127.0.0.1:19530", "natsmq")


def test_restart_same_object_keeps_data_and_password_foreign_folder_refused(tmp_path):
    server = EmbeddedMilvus("natsmq", tmp_path / "s", {"common.session.ttl": 10})  # restart waits out the TTL
    with server:
        with server.connection.client() as client:
            ingest.flat_collection(client, "r", 4)
            ingest.insert(client, "r", np.ones((10, 4), np.float32), show_progress=False)
            client.flush("r")
    with server:  # same folder, same password, data still there
        with server.connection.client() as client:
            client.load("r")
            assert client.count("r") == 10
    server.kill()
    with pytest.raises(ServerError, match="already holds a Milvus deployment"):
        EmbeddedMilvus("natsmq", tmp_path / "s").start()


def test_kill_then_restart_with_another_mq_is_checked(tmp_path):
    server = EmbeddedMilvus("rocksmq", tmp_path / "k", {"common.session.ttl": 10})
    server.start()
    assert server.kill() == "killed" and not server.running
    with pytest.raises(ServerError, match="contradicts mq=natsmq"):
        server.restart(mq="natsmq", overrides={"mq.type": "rocksmq"})
    server.restart(mq="natsmq")
    assert server.mq_from_log() == "natsmq" and server.mq == "natsmq"
    server.stop()


def test_nats_message_over_max_payload_is_refused_before_publishing(tmp_path):
    from mqbench.core.errors import PubSubError
    from mqbench.measure import mq_ops
    from mqbench.milvus.nats_server import NatsServer

    with NatsServer(tmp_path / "nats") as nats:
        shape = mq_ops.parse_shape("9MB*1")
        with pytest.raises(PubSubError, match="exceeds the server's max_payload 8388608 B"):
            mq_ops.nats_op(nats.url, "big", shape, mq_ops.Payloads(shape.size))
        assert nats.proc.poll() is None
    assert nats.stop_method == "terminated"


def test_an_older_release_serves_beside_the_environments_own(tmp_path, live_pids):
    """Milvus 2.3.0 from the package index, installed into the cache (never the environment), under natsmq beside
    the wheel's own 2.3.5: each proves its MQ, takes rows and counts them."""
    from mqbench.milvus import versions

    before = live_pids()
    with EmbeddedMilvus("natsmq", tmp_path / "old", version="2.3.0") as old, \
            EmbeddedMilvus("natsmq", tmp_path / "new") as new:
        assert (old.version, new.version) == ("2.3.0", versions.installed())
        assert versions.wheel_dir("2.3.0").is_relative_to(versions.cache())
        for server in (old, new):
            assert server.mq_from_log() == "natsmq"
            with server.connection.client() as client:
                client.create_collection("c", 8)
                vectors = np.random.default_rng(0).standard_normal((300, 8), dtype=np.float32)
                assert ingest.insert(client, "c", vectors, batch_rows=100, show_progress=False) == 300
                client.flush("c")
                client.build_index("c", "L2", "FLAT", {})
                client.load("c")
                assert client.count("c") == 300
    assert live_pids() == before
    with pytest.raises(ServerError, match="not an embedded release"):
        EmbeddedMilvus("natsmq", tmp_path / "x", version="2.2.16")

