"""One flushed build served under both MQs (the design of every run-time verdict), restarts that do not wait out
old etcd sessions, and many servers started at once without losing one to a port race."""
import shutil
import time

import numpy as np
from mqbench.data import ingest
from mqbench.milvus.server import EmbeddedMilvus


def test_a_flushed_build_serves_under_both_mqs_and_restarts_at_once(tmp_path, live_pids):
    before = live_pids()
    vectors = np.random.default_rng(0).standard_normal((2000, 8), dtype=np.float32)
    build = EmbeddedMilvus("rocksmq", tmp_path / "build").start()
    with build.connection.client() as client:
        ingest.flat_collection(client, "c", 8)
        client.insert("c", np.arange(2000), vectors)
        client.flush("c")
        top = client.search("c", vectors[:5], 5, consistency="Strong")
    assert build.drop_sessions() > 0  # Milvus's session keys, deleted in one etcd transaction
    build.kill()
    # sessions that live 10 minutes: a restart that had to wait one out would not serve within the start timeout
    copies = {mq: EmbeddedMilvus(mq, tmp_path / mq, ["common.session.ttl=600"],
                                 password=build.connection.token.split(":", 1)[1]) for mq in ("rocksmq", "natsmq")}
    for mq, server in copies.items():
        shutil.copytree(tmp_path / "build", server.base_dir)
        server.launch()
    try:
        for mq, server in copies.items():
            server.ready()
            assert server.mq_from_log() == mq
            with server.connection.client() as client:
                client.load("c")
                assert client.count("c") == 2000 and client.segment_rows("c") == [2000]
                assert client.search("c", vectors[:5], 5, consistency="Strong") == top  # the same build
        served = copies["natsmq"]
        assert served.kill(release_sessions=True) == "killed (sessions released)"
        assert served.start_timeout_s < 600
        t0 = time.perf_counter()
        served.start()  # no live session of its own to wait out (a plain kill: the TTL, 600 s here)
        print(f"restart after sessions released: {time.perf_counter() - t0:.1f} s")
        with served.connection.client() as client:
            client.load("c")
            assert client.count("c") == 2000
    finally:
        for server in copies.values():
            server.kill()
    assert live_pids() == before


def test_many_servers_start_at_once(tmp_path, live_pids):
    before = live_pids()
    servers = [EmbeddedMilvus(mq, tmp_path / f"s{i}") for i, mq in enumerate(["rocksmq", "natsmq"] * 2)]
    try:
        for server in servers:
            server.launch()
        for server in servers:
            server.ready()
        ports = [port for server in servers for port in server.ports.values()]
        assert len(set(ports)) == len(ports) and all(server.running for server in servers)
    finally:
        for server in servers:
            server.kill()
    assert live_pids() == before
