"""pubsub.ipynb at tiny size under both MQs and both levels, asserting on the recorded table."""
import pandas as pd
import pytest

from mqbench import report


@pytest.fixture(scope="module")
def pubsub_run(tmp_path_factory, run_mqbench):
    run_dir = tmp_path_factory.mktemp("runs") / "pubsub"
    return run_mqbench(run_dir, grid_yaml="""
notebooks:
  - notebook: notebooks/pubsub.ipynb
    parameters: {shapes: ["256KB*20", "1KBx300"], ops: 2, nats_servers: [standalone, embedded]}
    grid: {mq: [rocksmq, natsmq]}
""")


def test_every_shape_level_and_variant_delivered_everything(pubsub_run):
    table = report.table1(pd.read_parquet(pubsub_run / "summary.parquet"))
    assert (table["failed_ops"] == 0).all() and (table["s_per_op"] > 0).all()
    combos = set(zip(table["mq"], table["level"], table["variant"]))
    assert combos == {("rocksmq", "broker", "strict"), ("rocksmq", "milvus", "insert"),
                      ("natsmq", "broker", "async"), ("natsmq", "broker", "strict"), ("natsmq", "milvus", "insert")}
    assert set(table["shape"]) == {"256KB*20", "1KB*300"}
    nats = table[(table["mq"] == "natsmq") & (table["level"] == "broker")]
    assert set(nats["broker"]) == {"nats in milvus 2.3.5"} | {b for b in nats["broker"] if b.startswith("nats-server v")}
    assert (table["storage_gb_per_op"] > 0).all() and (table["memory_gb"] > 0).all()


def test_raw_ops_recompute_s_per_op(pubsub_run):
    s = pd.read_parquet(pubsub_run / "summary.parquet")
    row = s[(s["op"] == "pubsub") & (s["status"] == "ok")].iloc[0]
    raw = pd.read_parquet(pubsub_run / row["raw_file"])
    assert len(raw) == 2 and (raw["received"] == raw["sent"]).all()
    assert raw["seconds"].median() == pytest.approx(row["s_per_op"])


def test_report_shows_table1_with_the_seeds_numbers(pubsub_run):
    html = (pubsub_run / "report.html").read_text()
    assert "Table 1" in html and "seed_s_per_op" in html
