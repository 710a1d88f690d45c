"""pubsub.ipynb at tiny size: every broker of a shape side by side, 5 ops in blocks; both MQs through Milvus over 5
pairs of server starts."""
import pandas as pd
import pytest
from mqbench.report import tables
from mqbench.stats import findings


@pytest.fixture(scope="module")
def pubsub_run(tmp_path_factory, run_mqbench):
    return run_mqbench(tmp_path_factory.mktemp("runs") / "pubsub", grid_yaml="""
notebooks:
  - notebook: notebooks/pubsub.ipynb
    parameters: {shapes: ["256KB*20", "1KBx300"], ops: 5, nats_servers: [standalone, embedded]}
""")


def test_every_broker_and_level_delivered_every_message(pubsub_run):
    s = pd.read_parquet(pubsub_run / "summary.parquet")
    table = tables.table1(s)
    assert (table["failed_ops"] == 0).all() and (table["ops"] == 5).all() and (table["s_per_op"] > 0).all()
    brokers = set(zip(table["level"], table["mq"], table["publish"]))
    assert brokers == {("broker", "rocksmq", "strict"), ("broker", "natsmq", "strict"), ("broker", "natsmq", "async"),
                       ("milvus", "rocksmq", "insert"), ("milvus", "natsmq", "insert")}
    assert set(table["shape"]) == {"256KB*20", "1KB*300"}
    assert (table["memory_gib"] > 0).all() and (table["storage_gib_per_op"] >= 0).all()
    nats = table[(table["level"] == "broker") & (table["mq"] == "natsmq")]
    assert (nats["storage_gib_per_op"] > 0).all()  # JetStream's file store grows with every op (RocksDB may
    # still hold a small op in its memtable and preallocated files)
    # not the seed's shapes: nothing stands beside them (strict-only seed: tests/unit/test_measurement_defects.py)
    assert table["seed_s_per_op"].isna().all()


def test_ops_are_blocks_and_compared_with_the_rocksdb_model(pubsub_run):
    s = pd.read_parquet(pubsub_run / "summary.parquet")
    ops = s[(s["op"] == "pubsub") & (s["phase"] == "broker")]
    assert ops.groupby(["shape", "variant"])["block"].nunique().eq(5).all()
    assert (ops["received"] == ops["sent"]).all()
    table = findings.findings(s)
    broker = table[table["what"].str.startswith("pubsub · broker")]
    assert set(broker["baseline"]) == {"rocksmq · rocksdb-model · strict"} and (broker["units"] == 5).all()
    assert "Table 1" in (pubsub_run / "report.html").read_text()


def test_ops_through_milvus_are_start_pairs(pubsub_run):
    s = pd.read_parquet(pubsub_run / "summary.parquet")
    ops = s[(s["op"] == "pubsub") & (s["phase"] == "milvus")]
    assert (ops["unit"] == "start").all() and ops.groupby(["shape", "variant"])["start"].nunique().eq(5).all()
    restarts = s[(s["op"] == "server_start") & s["start"].notna()]
    assert len(restarts) == 4 * 2  # restarted pairs (the first start is the servers' own) × servers: every shape
    # runs on each start, its turn rotating from start to start
    assert ops.groupby("start", sort=True)["shape"].first().nunique() == 2  # rows in the order they were measured
    assert restarts.groupby("launch_order")["variant"].value_counts().min() >= 1  # launch order balanced
    table = findings.findings(s)
    milvus = table[(table["phase"] == "milvus") & (table["metric"] == "s_per_op")]
    assert len(milvus) == 2 and (milvus["unit"] == "start pair").all() and (milvus["units"] == 5).all()
    produce = table[(table["phase"] == "milvus") & (table["metric"] == "milvus_produce_ms")]
    assert (produce["verdict"] == "insufficient data").all()  # whole-ms means below 20 ms carry no ratio
