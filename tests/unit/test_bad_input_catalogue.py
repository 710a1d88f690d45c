"""The bad-input catalogue (README "Bad input"): each raises one line naming the culprit, starting nothing.

CLI-level cases are in test_cli_errors.py; ones that need a real server (a taken port, a dimension
mismatch, an overflowing natsmq store, a folder with a foreign deployment) are in the integration tiers.
"""
from pathlib import Path

import numpy as np
import pytest
from mqbench.core import room
from mqbench.core.errors import GridError, OverrideError, ParameterError, ServerError
from mqbench.data import datasets
from mqbench.measure import workload
from mqbench.milvus import deployment, indexes
from mqbench.milvus.overrides import parse_overrides
from mqbench.milvus.server import EmbeddedMilvus, external
from mqbench.run import parameters, runner
from mqbench.run.session import Session
from mqbench.studies import freshness_recovery, pubsub, search_query

ROOT = Path(__file__).resolve().parents[2]
NB = "notebooks/search_query.ipynb"

CASES = {
    "grid entry with an unknown key": (
        lambda: runner.expand_grid({"notebooks": [{"notebook": NB, "params": {}}]}, ROOT),
        GridError, "may have only 'parameters', 'grid', 'repeats' and 'warmup'"),
    "grid that is not a mapping": (lambda: runner.expand_grid(["x"], ROOT), GridError, "'notebooks' list"),
    "grid repeats not a positive integer": (
        lambda: runner.expand_grid({"repeats": "two", "notebooks": [{"notebook": NB}]}, ROOT), GridError,
        "'two'"),
    "override key that is not dotted": (lambda: parse_overrides({"mqtype": 1}), OverrideError, "'mqtype'"),
    "mq.type override contradicting mq": (
        lambda: EmbeddedMilvus("natsmq", "/tmp/never", {"mq.type": "rocksmq"}),
        ServerError, "mq.type=rocksmq contradicts mq=natsmq"),
    "unknown mq for a server": (lambda: EmbeddedMilvus("pulsar", "/tmp/never"), ServerError, "'pulsar'"),
    "external uri without a scheme": (lambda: external("localhost:19530", "natsmq"), ServerError,
                                      "'localhost:19530' must start with"),
    "unknown variant kind": (lambda: _check(variants=["rocksmq", {"kind": "teleport", "mq": "rocksmq"}]),
                             ParameterError, "unknown kind 'teleport'; choose one of embedded, deployment"),
    "deployment without its token variable or label": (
        lambda: _check(variants=["rocksmq", {"uri": "http://10.0.0.5:19530", "mq": "pulsar"}]), ParameterError,
        "a deployment needs token_env, label"),
    "deployment whose token variable is unset": (
        lambda: deployment.probe("http://127.0.0.1:9", "MQBENCH_TEST_NEVER_SET"), ServerError,
        "its token variable MQBENCH_TEST_NEVER_SET is not set"),
    "deployment without a restart command over several start pairs": (
        lambda: _check(variants=[{"label": "a", "mq": "pulsar", "uri": "http://10.0.0.5:19530", "token_env": "T"},
                                 {"label": "b", "mq": "kafka", "uri": "http://10.0.0.6:19530", "token_env": "T",
                                  "restart": "true"}], start_pairs=3), ParameterError,
        "deployment 'a' has no restart command, so it is started once: set start_pairs: 1"),
    "deployment variant in a study that starts its own servers": (
        lambda: pubsub.check({**PUBSUB_DEFAULTS, "variants": ["rocksmq", {"label": "far", "mq": "pulsar", "uri":
                                                                           "http://10.0.0.5:19530", "token_env": "T"}]}),
        ParameterError, "pubsub starts and kills its own servers: deployment variant 'far' applies to search_query"),
    "unknown metric": (lambda: datasets.synthetic(10, 4, metric="EUCLID"), ValueError, "'EUCLID'"),
    "unknown synthetic distribution": (lambda: datasets.synthetic(10, 4, distribution="zipf"), ValueError, "'zipf'"),
    "empty synthetic dataset": (lambda: datasets.synthetic(0, 4), ValueError, "n=0"),
    "n limit larger than the file": (lambda: datasets.load("glove-50-angular", n=10**7, ground_truth=False),
                                     datasets.FormatError, "n limit 10000000 is larger than the file"),
    "query dim differs from base dim": (
        lambda: datasets.ground_truth(np.zeros((3, 4), np.float32), np.zeros((1, 5), np.float32), 1, "L2"),
        ValueError, "query dim 5 differs from base dim 4"),
    "unknown consistency level": (lambda: workload.Spec("query", "c", "Eventual", n=5), ValueError, "'Eventual'"),
    "unknown consistency level in a sweep": (lambda: _check(consistency_levels=["Strong", "Eventual"]), ValueError,
                                             "bad: ['Eventual']"),
    "unknown request kind": (lambda: workload.Spec("upsert", "c"), ValueError, "'upsert'"),
    "search without query vectors": (lambda: workload.Spec("search", "c"), ValueError, "needs query vectors"),
    "concurrency below 1": (lambda: workload.concurrent(None, workload.Spec("query", "c", n=1), 0, 1.0),
                            ValueError, "concurrency >= 1"),
    "negative window": (lambda: workload.concurrent(None, workload.Spec("query", "c", n=1), 1, -1.0),
                        ValueError, "duration_s > 0"),
    "serial with no requests": (lambda: workload.serial(None, workload.Spec("query", "c", n=1), 0), ValueError,
                                "requests >= 1"),
    "not enough disk for a load": (lambda: room.check_disk("/", 1e18, "loading the collection"),
                                   room.StorageError, "loading the collection needs about"),
    "server_overrides together with an external uri": (
        lambda: _bare_session().start_variants(["natsmq"], "http://h:1", {"a.b": 1}),
        ValueError, "server_overrides apply to embedded servers only"),
    "empty concurrency list": (lambda: _check(concurrency_levels=[]), ValueError, "concurrency_levels"),
    "negative sweep window": (lambda: _check(sweep_window_s=-1.0), ValueError, "sweep_window_s"),
    "negative open-loop rate": (lambda: _check(open_loop_rates=[100, -5]), ValueError, "open_loop_rates"),
    "unknown arrivals": (lambda: _check(arrivals="bursty"), ValueError, "'bursty'"),
    "index parameter the index type does not take": (
        lambda: _check(index_type="IVF_FLAT", index_params={"nlist": 64, "M": 16}, search_params={"nprobe": 8},
                       search_param_sweep=[]), ValueError, "IVF_FLAT does not take 'M'"),
    "index type that does not exist": (lambda: _check(index_type="HNSW2"), ValueError, "'HNSW2'"),
    "IVF_PQ m that does not divide dim": (
        lambda: _check(index_type="IVF_PQ", index_params={"nlist": 8, "m": 7}, search_params={},
                       search_param_sweep=[]), ValueError, "m=7 must divide the dimension 50"),
    "search parameter out of range": (lambda: _check(search_params={"ef": 5}), ValueError, "ef=5 is out of range"),
    "sweep search parameter out of range": (lambda: _check(search_param_sweep=[{"ef": 64}, {"ef": 0}]), ValueError,
                                            "search_param_sweep entry: ef=0"),
    "nprobe above nlist": (
        lambda: _check(index_type="IVF_SQ8", index_params={"nlist": 16}, search_params={"nprobe": 32},
                       search_param_sweep=[]), ValueError, "nprobe=32 is out of range"),
    "filter on a field that does not exist": (lambda: _check(filter_query="price < 10"), ValueError, "['price']"),
    "shape filter on a field that does not exist": (
        lambda: _check(request_shapes=[{"filter": "color == 'red' and attr < 5"}]), ValueError, "['color']"),
    "unknown request-shape key": (lambda: _check(request_shapes=[{"topk": 5}]), ValueError, "'topk'"),
    "unknown query kind": (lambda: _check(query_kinds=["scan"]), ValueError, "['scan']"),
    "DISKANN on the embedded server": (lambda: _check(index_type="DISKANN", index_params={}, search_params={},
                                                      search_param_sweep=[]), ValueError, "bad_function_call"),
    "batch size of zero bytes": (lambda: _check(batch_mb=0), ValueError, "batch_mb must be a positive number"),
    "no loader processes": (lambda: _check(insert_workers=0), ValueError, "insert_workers must be an integer >= 1"),
    "open-loop pool of zero clients": (lambda: workload.ClientPool(None, 0), ValueError, "at least one process"),
    "unknown MQ among the variants": (lambda: _check(variants=["rocksmq", "kafka"]), ParameterError, "'kafka'"),
    "no variants": (lambda: _check(variants=[]), ParameterError, "variants must be a non-empty list"),
    "two variants against one external server": (lambda: _check(uri="http://h:1"), ParameterError,
                                                 "give exactly one variant"),
    "zero paired blocks": (lambda: _check(blocks=0), ParameterError, "blocks must be an integer >= 1"),
    "equivalence margin of zero": (lambda: _check(delta=0), ParameterError, "delta must be a positive number"),
    "time-tick study against an external server": (
        lambda: freshness_recovery.check({**FRESHNESS_DEFAULTS, "uri": "http://h:1", "variants": ["natsmq"]}), ParameterError,
        "tick_starts = 0"),
    "negative number of starts": (lambda: freshness_recovery.check({**FRESHNESS_DEFAULTS, "tick_starts": -1}), ParameterError,
                                  "tick_starts must be an integer >= 0"),
    "unknown pub/sub level": (lambda: pubsub.check({**PUBSUB_DEFAULTS, "levels": ["kernel"]}), ParameterError,
                              "levels entries must be among broker, milvus"),
    "unknown publish mode": (lambda: pubsub.check({**PUBSUB_DEFAULTS, "publish_modes": ["fire"]}), ParameterError,
                             "publish_modes entries must be among strict, async"),
}

SEARCH_QUERY_DEFAULTS = parameters.defaults(ROOT / "notebooks" / "search_query.ipynb")
FRESHNESS_DEFAULTS = parameters.defaults(ROOT / "notebooks" / "freshness_recovery.ipynb")
PUBSUB_DEFAULTS = parameters.defaults(ROOT / "notebooks" / "pubsub.ipynb")


def _check(**changes):
    """search_query's parameter check, and its index check against a 50-d dataset (``prepare`` makes it)."""
    p = {**SEARCH_QUERY_DEFAULTS, **changes}
    indexes.check_index(p["index_type"], p["index_params"], 50, not p["uri"])
    search_query.check(p)


def _bare_session():
    session = Session.__new__(Session)
    session.variants, session.context = [], {}
    return session


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input(case, live_pids):
    call, error, culprit = CASES[case]
    before = live_pids()
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert culprit in message and "\n" not in message
    assert live_pids() == before


def test_a_server_named_by_its_registry_member_writes_a_plain_config(tmp_path):
    from mqbench.core.mqs import MQ

    server = EmbeddedMilvus(MQ.NATSMQ, tmp_path)
    assert type(server.mq) is str and server.mq == "natsmq"
