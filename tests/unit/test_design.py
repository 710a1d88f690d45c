"""Variants and the balanced, seeded order they run in."""
import itertools

import pytest
from mqbench.core.errors import ParameterError
from mqbench.run import runner
from mqbench.stats import design


@pytest.mark.parametrize("k", [2, 3, 4, 5])
def test_williams_rows_balance_positions_and_successions(k):
    rows = design.williams(k)
    for position in range(k):
        assert sorted(row[position] for row in rows) == sorted(list(range(k)) * (len(rows) // k))
    followers = [(row[i], row[i + 1]) for row in rows for i in range(k - 1)]
    counts = {pair: followers.count(pair) for pair in itertools.permutations(range(k), 2)}
    assert len(set(counts.values())) == 1  # each variant follows each other equally often


def test_two_variants_alternate_ab_and_ba_never_aabb_within_a_pair():
    orders = design.block_orders(12, 2, seed=5)
    assert sorted(map(tuple, orders)).count((0, 1)) == 6 and sorted(map(tuple, orders)).count((1, 0)) == 6
    assert orders == design.block_orders(12, 2, seed=5) and orders != design.block_orders(12, 2, seed=6)


def test_variants_parse_labels_and_overrides():
    v = design.parse_variants(["rocksmq", {"mq": "natsmq", "overrides": {"natsmq.server.retention.maxAge": 60}}],
                              {"common.session.ttl": 10})
    assert [x.label for x in v] == ["rocksmq", "natsmq"] and [x.index for x in v] == [0, 1]
    assert v[1].overrides == {"common.session.ttl": 10, "natsmq.server.retention.maxAge": 60}
    assert [x.label for x in design.parse_variants(["rocksmq", "rocksmq"])] == ["rocksmq-1", "rocksmq-2"]


def test_a_variant_may_name_a_milvus_release():
    v = design.parse_variants([{"mq": "natsmq", "version": "2.3.0"}, {"mq": "natsmq", "version": "2.3.5"}])
    assert [(x.label, x.version) for x in v] == [("natsmq-2.3.0", "2.3.0"), ("natsmq-2.3.5", "2.3.5")]
    assert design.parse_variants({"mq": "natsmq", "version": "2.3.0", "label": "old"})[0].label == "old"
    with pytest.raises(ParameterError, match="2.3.0, 2.3.1"):
        design.parse_variants([{"mq": "natsmq", "version": "2.2.16"}])
    with pytest.raises(ParameterError, match="embedded servers"):
        design.parse_variants({"mq": "natsmq", "version": "2.3.0"}, external=True)


@pytest.mark.parametrize("spec, message", [
    ([], "non-empty list"), (["kafka"], "unknown mq 'kafka'"), ([{"mq": "natsmq", "colour": 1}], r"unknown key\(s\) \['colour'\]"),
    ([{"mq": "natsmq", "overrides": {"mq.type": "rocksmq"}}], "contradicts mq=natsmq"),
])
def test_bad_variants_name_themselves(spec, message):
    with pytest.raises(ParameterError, match=message):
        design.parse_variants(spec)


def test_grid_cells_are_interleaved_per_repeat(tmp_path):
    grid = {"order_seed": 4, "repeats": 3, "notebooks": [{"notebook": "notebooks/scale_curve.ipynb",
                                                           "grid": {"mq": ["rocksmq", "natsmq"]}}]}
    cells = runner.expand_grid(grid, runner.PROJECT_ROOT)
    sequence = [c.params["mq"] for c in cells]
    assert [c.params["repeat"] for c in cells] == [0, 0, 1, 1, 2, 2]
    assert all(set(sequence[i:i + 2]) == {"rocksmq", "natsmq"} for i in (0, 2, 4))  # each repeat has both
    assert sequence == [c.params["mq"] for c in runner.expand_grid(grid, runner.PROJECT_ROOT)]  # seeded
