"""Embedded servers: what listens where, and the root password never reaches disk."""
import numpy as np
import psutil
from mqbench.core import results
from mqbench.data import ingest
from mqbench.run.session import Session


def test_listeners_and_password_never_on_disk(tmp_path):
    run_dir = results.create_run_dir(tmp_path / "run")
    results.write_manifest(run_dir, mode="test")
    session = Session("sec", {"repeat": 0}, run_dir, interactive=False)
    (variant,) = session.start_variants(["natsmq"])
    conn, server = variant.conn, variant.server
    password = conn.token.split(":", 1)[1]
    assert len(password) >= 24
    listening = {c.laddr.port: c.laddr.ip for c in psutil.Process(server.pid).net_connections("tcp")
                 if c.status == psutil.CONN_LISTEN}
    for name in ("etcd", "etcd_peer", "natsmq"):
        assert listening[server.ports[name]] == "127.0.0.1", name
    # Milvus 2.3.5 has no setting that binds gRPC/HTTP to loopback (the *.ip keys only set the advertised
    # address): they listen on all interfaces, which is why authentication is always on.
    assert listening[server.ports["proxy"]] in ("::", "0.0.0.0")
    with conn.client() as client, session.track("insert", "load", rows=10):
        client.create_collection("p", 4)
        ingest.insert(client, "p", np.ones((10, 4), np.float32), show_progress=False)
    session.close()
    results.consolidate(run_dir)
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert password not in path.read_bytes().decode(errors="replace"), path
