"""Table 1 inside Milvus: Milvus's own produce series per shape and MQ, weighted by calls, beside the seed's time per
message at the same message size."""
import pandas as pd
import pytest
from mqbench.core import results
from mqbench.report import tables


def test_produce_means_are_weighted_by_calls_and_the_seed_matches_by_message_size():
    rows = []
    for mq, ms in (("rocksmq", [1.0, 3.0]), ("natsmq", [2.0, 4.0])):
        for op, (mean, calls) in enumerate(zip(ms, [10, 30])):
            rows.append(dict(op="pubsub", phase="milvus", status="ok", shape="1MB*50", variant=mq, mq=mq, block=op,
                             s_per_op=1.0, milvus_produce_ms=mean, milvus_produce_n=calls,
                             milvus_produce_p50_le_ms=4.0, milvus_qn_consume_tt_lag_ms=200.0))
    table = tables.table1_inside(results.with_base(pd.DataFrame(rows))).set_index("variant")
    assert table.loc["rocksmq", "produce_ms_mean"] == pytest.approx((1 * 10 + 3 * 30) / 40)
    assert table.loc["natsmq", "end_to_end_ms_per_message"] == pytest.approx(1000 / 50)
    seed = 2.248722593 / 500 * 1000  # the seed's 1MB*500 under NATS
    assert table.loc["natsmq", "seed_ms_per_message"] == pytest.approx(seed)
