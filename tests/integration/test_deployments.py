"""Variants of any kind side by side: two `mqbench server` processes given by URI with restart commands, and a
variant kind registered inside a test beside the two MQs."""
import os
import re
import signal
import sys

import numpy as np
import pytest
from conftest import mqbench, start_mqbench
from mqbench.core import results, schema
from mqbench.data import ingest
from mqbench.measure import workload
from mqbench.milvus.processes import free_ports
from mqbench.run.session import Session
from mqbench.stats import design

ROWS, DIM = 300, 8


def _session(tmp_path) -> Session:
    run_dir = results.create_run_dir(tmp_path / "run")
    results.write_manifest(run_dir, mode="test")
    return Session("deployments", {"repeat": 0}, run_dir, interactive=False)


@pytest.fixture
def two_servers(tmp_path, monkeypatch, live_pids):
    """A rocksmq and a natsmq `mqbench server`, each on fixed ports with its token from the environment."""
    before = live_pids()
    servers, procs = [], []
    try:
        for mq in ("rocksmq", "natsmq"):
            port, metrics = free_ports(2)
            variable = f"TEST_TOKEN_{mq.upper()}"
            monkeypatch.setenv(variable, f"root:{os.urandom(8).hex()}")
            folder = tmp_path / mq
            proc = start_mqbench("server", "--mq", mq, "--dir", str(folder), "--port", str(port), "--metrics-port",
                                 str(metrics), "--token-env", variable)
            procs.append(proc)
            banner = "".join(proc.stdout.readline() for _ in range(4))
            assert f'uri = "http://127.0.0.1:{port}"' in banner, banner + proc.stderr.read()[-2000:]
            servers.append({"label": f"{mq}-deployed", "mq": mq, "uri": f"http://127.0.0.1:{port}",
                            "token_env": variable, "metrics": f"http://127.0.0.1:{metrics}/metrics",
                            "restart": f"{sys.executable} -m mqbench.cli restart {folder}"})
        yield servers
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.communicate(timeout=120)
    assert live_pids() == before


def _interleaved_block(session, ordered, block: int) -> None:
    """One serial search block with the variants taking turns request by request."""
    spec = workload.Spec(schema.Op.SEARCH, "d", "Bounded", queries=np.ones((5, DIM), np.float32), k=3)
    with session.interleaved(ordered, spec.kind, schema.Phase.SERIAL, {"block": block, "unit": "start",
                                                                        "start": block}) as out:
        out.update(workload.interleaved({v.label: v.conn for v in ordered}, spec, 10, 2))


def _load(variant) -> None:
    with variant.conn.client() as client:
        client.create_collection("d", DIM)
        ingest.insert(client, "d", np.random.default_rng(0).standard_normal((ROWS, DIM), np.float32),
                      show_progress=False)
        client.flush("d")
        client.build_index("d", "L2", "FLAT", {})
        client.load("d")


def test_two_deployments_by_uri_are_measured_side_by_side_and_restarted(tmp_path, two_servers):
    session = _session(tmp_path)
    variants = session.start_variants(two_servers)
    assert [v.kind for v in variants] == ["deployment", "deployment"] and all(v.restartable for v in variants)
    for v in variants:
        _load(v)
    _interleaved_block(session, variants, 0)
    session.close_variants(kill=True, forget=False)  # a deployment is never stopped: it is restarted next
    session.start_pair(variants[::-1], start=1)
    for v in variants:
        assert v.server.restarts == 1
        with v.conn.client() as client:
            client.load("d")
            assert client.count("d") == ROWS  # the same deployment, served again
    _interleaved_block(session, variants[::-1], 1)
    session.close()
    rows = session.rows
    starts = [r for r in rows if r["op"] == schema.Op.SERVER_START and r.get("start") == 1]
    assert {r["milvus_version"] for r in rows if r["op"] == schema.Op.SERVER_START} == {"v2.3.5-lite"}
    assert [(r["variant"], r["launch_order"], r["status"]) for r in starts] == [("natsmq-deployed", 0, "ok"),
                                                                              ("rocksmq-deployed", 1, "ok")]
    searches = [r for r in rows if r["op"] == schema.Op.SEARCH]
    assert len(searches) == 4 and {r["server"] for r in searches} == {"deployment"}
    assert all(r["status"] == "ok" and r["server_cpu_s"] is not None for r in searches)  # from /metrics
    assert {r["milvus_version"] for r in searches} == {"v2.3.5-lite"}


def test_a_grid_fails_before_anything_starts_naming_the_culprit(tmp_path, monkeypatch, live_pids):
    """An unknown variant kind, a missing token and an unreachable URI: one line each, nothing started."""
    before = live_pids()
    (port,) = free_ports(1)
    deployed = {"label": "far", "mq": "pulsar", "uri": f"http://127.0.0.1:{port}", "token_env": "TEST_TOKEN_FAR"}
    cases = [({"kind": "teleport", "mq": "rocksmq"}, {}, "unknown kind 'teleport'"),
             (deployed, {}, "its token variable TEST_TOKEN_FAR is not set"),
             (deployed, {"TEST_TOKEN_FAR": "root:x"}, f"deployment http://127.0.0.1:{port} does not answer")]
    for entry, env, message in cases:
        grid = tmp_path / "grid.yaml"
        grid.write_text("notebooks:\n  - notebook: notebooks/search_query.ipynb\n    parameters:\n"
                        f"      variants: [rocksmq, {entry!r}]\n      n: 1000\n      start_pairs: 1\n".replace("'", '"'))
        done = mqbench("run", "--grid", str(grid), timeout=120, env={**os.environ, **env})
        assert done.returncode == 2, done.stderr[-2000:]
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], done.stderr
        assert re.match(r"mqbench: error: search_query r0: ", lines[0]), lines[0]
    assert live_pids() == before


class Pinned(design.Embedded):
    """A third kind, registered by this test alone: an embedded RocksMQ server with a smaller RocksMQ cache, under
    its own label."""

    keys = ()

    def parse(self, entry: dict, overrides: dict) -> design.Variant:
        variant = super().parse({"mq": "rocksmq", "overrides": {"rocksmq.lrucacheratio": 0.03}}, overrides)
        variant.label = "pinned"
        return variant


def test_a_variant_kind_registered_in_a_test_runs_beside_the_two_mqs(tmp_path, monkeypatch, live_pids):
    before = live_pids()
    monkeypatch.setitem(design.KINDS, "pinned", Pinned())
    session = _session(tmp_path)
    try:
        variants = session.start_together(["rocksmq", "natsmq", {"kind": "pinned"}], "k")
        assert [(v.label, v.kind) for v in variants] == [("rocksmq", "embedded"), ("natsmq", "embedded"),
                                                        ("pinned", "pinned")]
        assert variants[2].server.overrides["rocksmq.lrucacheratio"] == 0.03
        for v in variants:
            _load(v)
        _interleaved_block(session, variants, 0)
    finally:
        session.close()
    searches = [r for r in session.rows if r["op"] == schema.Op.SEARCH]
    assert [r["variant"] for r in searches] == ["rocksmq", "natsmq", "pinned"]
    assert {r["server"] for r in searches} == {"embedded", "pinned"} and all(r["status"] == "ok" for r in searches)
    assert live_pids() == before
