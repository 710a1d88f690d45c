"""Shape parsing and the RocksDB model of RocksMQ (in-process, no server)."""
import pytest
from mqbench.measure import mq_ops


@pytest.mark.parametrize("text, size, count", [
    ("5MB*100", 5 * 2**20, 100), ("5MBx100", 5 * 2**20, 100), ("64KB*10000", 64 * 1024, 10000),
    ("1kb X 3", 1024, 3), ("10B*1", 10, 1),
])
def test_shapes_parse(text, size, count):
    shape = mq_ops.parse_shape(text)
    assert (shape.size, shape.count) == (size, count)


def test_seed_labels_round_trip():
    assert [mq_ops.parse_shape(s).label for s in mq_ops.SEED_SHAPES] == mq_ops.SEED_SHAPES


@pytest.mark.parametrize("bad", ["5MB", "MB*3", "5TB*1", "0B*3", "5MB*0", "5MB+100"])
def test_bad_shapes_name_themselves(bad):
    with pytest.raises(ValueError, match="shape"):
        mq_ops.parse_shape(bad)


def test_rocksmq_model_delivers_every_message_in_order(tmp_path):
    store = mq_ops.RocksMQModel(tmp_path / "rdb")
    shape = mq_ops.parse_shape("3KB*300")
    payloads = mq_ops.Payloads(shape.size)
    ops = [mq_ops.rocksmq_op(store, f"topic_{i}", shape, payloads) for i in range(2)]
    assert all(op.received == 300 and not op.error for op in ops)
    keys = [k for k in store.data.keys() if k.startswith(b"topic_1/")]
    assert len(keys) == 300 and keys == sorted(keys)
    assert store.data[keys[5]] == payloads[5]
    store.close()


def test_a_short_delivery_is_a_failed_op_with_its_error():
    op = mq_ops._op(1.0, mq_ops.parse_shape("1KB*10"), sent=10, received=9, errors=0)
    assert op.error == "received 9 of 10 messages, 0 publish errors"
