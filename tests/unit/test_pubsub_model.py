"""Shape parsing and the RocksDB model of RocksMQ (in-process, no server)."""
import pytest
from rocksdict import Options, Rdict

from mqbench import pubsub


@pytest.mark.parametrize("text, size, count", [
    ("5MB*100", 5 * 2**20, 100), ("5MBx100", 5 * 2**20, 100), ("64KB*10000", 64 * 1024, 10000),
    ("1kb X 3", 1024, 3), ("10B*1", 10, 1),
])
def test_shapes_parse(text, size, count):
    shape = pubsub.parse_shape(text)
    assert (shape.size, shape.count) == (size, count)


def test_seed_labels_round_trip():
    assert [pubsub.parse_shape(s).label for s in pubsub.SEED_SHAPES] == pubsub.SEED_SHAPES


@pytest.mark.parametrize("bad", ["5MB", "MB*3", "5TB*1", "0B*3", "5MB*0", "5MB+100"])
def test_bad_shapes_name_themselves(bad):
    with pytest.raises(ValueError, match="shape"):
        pubsub.parse_shape(bad)


def test_rocksmq_model_delivers_every_message_in_order_and_records_acks(tmp_path):
    store = pubsub.RocksMQModel(tmp_path / "rdb")
    shape = pubsub.parse_shape("3KB*300")
    ops = [pubsub.rocksmq_op(store, f"topic_{i}", shape) for i in range(2)]
    assert all(op.received == 300 and not op.error for op in ops)
    store.close()
    opts = Options(raw_mode=True)
    data = Rdict(str(tmp_path / "rdb"), opts)
    keys = [k for k in data.keys() if k.startswith(b"topic_1/")]
    assert len(keys) == 300 and keys == sorted(keys)
    data.close()
    meta = Rdict(str(tmp_path / "rdb") + "_meta_kv", opts)
    assert meta[b"consumer_current_id/topic_1/bench"] == keys[-1][len(b"topic_1/"):]
    meta.close()


def test_summary_counts_failed_ops_and_never_averages_them():
    shape = pubsub.parse_shape("1KB*10")
    ops = [pubsub.Op(1.0, 10, 10, 0), pubsub.Op(3.0, 10, 10, 0), pubsub.Op(0.1, 10, 4, 0, "received 4 of 10")]
    row = pubsub.summarize(ops, shape)
    assert row["failed_ops"] == 1 and row["s_per_op"] == 2.0 and row["s_per_op_max"] == 3.0
    assert row["error"] == "received 4 of 10"
