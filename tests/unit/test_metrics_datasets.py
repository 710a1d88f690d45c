import numpy as np
import pytest
from mqbench.data import datasets
from mqbench.stats import metrics


def test_latency_stats_from_pooled_ns_show_only_supported_percentiles():
    stats = metrics.latency_stats(np.arange(1, 101) * 1_000_000)  # 1..100 ms
    assert stats["latency_avg_ms"] == pytest.approx(50.5) and stats["latency_count"] == 100
    assert stats["latency_p50_ms"] == pytest.approx(50.5)
    assert np.isnan(stats["latency_p95_ms"]) and np.isnan(stats["latency_p99_ms"])  # 100 samples do not support them
    assert stats["latency_max_ms"] == 100 and stats["latency_min_ms"] == 1
    many = metrics.latency_stats(np.arange(1, 1001) * 1_000_000)
    assert many["latency_p99_ms"] == pytest.approx(990.01) and np.isnan(many["latency_p999_ms"])
    assert np.isnan(metrics.latency_stats([])["latency_avg_ms"])


def test_every_statistic_is_a_registered_column_and_the_compared_ones_have_a_direction():
    from mqbench.core import schema

    written = {**metrics.latency_stats([1e6] * 30), **metrics.latency_stats([1e6] * 30, "service")}
    assert all(schema.declared(name) for name in written)
    for name, rule in schema.JUDGED.items():  # every column a verdict reads, by the rules on it
        assert schema.COLUMNS[name].better in ("lower", "higher") and schema.COLUMNS[name].judged is rule
        assert rule.at and rule.fixed_per in ("", schema.Unit.START, schema.Unit.BUILD)


@pytest.mark.parametrize("metric", ["L2", "IP", "COSINE"])
def test_ground_truth_matches_naive_brute_force(metric):
    rng = np.random.default_rng(1)
    base = rng.standard_normal((997, 12), dtype=np.float32)
    queries = rng.standard_normal((7, 12), dtype=np.float32)
    got = datasets.ground_truth(base, queries, k=10, metric=metric, chunk_rows=100)
    if metric == "L2":
        scores = -((queries[:, None, :] - base[None]) ** 2).sum(-1)
    elif metric == "IP":
        scores = queries @ base.T
    else:
        scores = (queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ (
            base / np.linalg.norm(base, axis=1, keepdims=True)).T
    expected = np.argsort(-scores, axis=1)[:, :10]
    np.testing.assert_array_equal(got, expected)


def test_synthetic_is_seeded_and_checked():
    a = datasets.synthetic(n=100, dim=8, nq=5, seed=3, k=5)
    b = datasets.synthetic(n=100, dim=8, nq=5, seed=3, k=5)
    np.testing.assert_array_equal(a.base.read_all(), b.base.read_all())
    assert a.neighbors.shape == (5, 5) and a.n == 100 and a.dim == 8
    with pytest.raises(ValueError, match="unknown metric 'HAMMING'"):
        datasets.synthetic(n=10, dim=4, metric="HAMMING")
    with pytest.raises(ValueError, match="query dim 3 differs from base dim 4"):
        datasets.ground_truth(np.zeros((5, 4), np.float32), np.zeros((1, 3), np.float32), 2, "L2")


def test_recall_at_k():
    truth = np.array([[1, 2, 3], [4, 5, 6]])
    assert datasets.recall_at_k([[1, 2, 9], [6, 5, 4]], truth, 3) == pytest.approx((2 / 3 + 1) / 2)
