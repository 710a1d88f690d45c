"""Datasets: seeded synthetic vectors with exact ground truth by chunked brute force."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

METRICS = ("L2", "IP", "COSINE")
DISTRIBUTIONS = ("gauss", "clustered")


@dataclass
class Dataset:
    name: str
    base: np.ndarray       # (n, dim) float32
    queries: np.ndarray    # (nq, dim) float32
    metric: str
    neighbors: np.ndarray  # (nq, k) int64 exact top-k ids, best first

    @property
    def n(self) -> int:
        return int(self.base.shape[0])

    @property
    def dim(self) -> int:
        return int(self.base.shape[1])


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}: choose one of {', '.join(METRICS)}")
    return metric


def _draw(rng: np.random.Generator, rows: int, dim: int, distribution: str, centers: np.ndarray) -> np.ndarray:
    noise = rng.standard_normal((rows, dim), dtype=np.float32)
    if distribution == "gauss":
        return noise
    return centers[rng.integers(0, len(centers), size=rows)] + noise


def synthetic(n: int, dim: int, nq: int = 100, metric: str = "L2", seed: int = 42, k: int = 100,
              distribution: str = "clustered", clusters: int = 64) -> Dataset:
    """Base and held-out query vectors from ``seed``, with exact top-``k`` ground truth.

    ``gauss``: i.i.d. standard normal (the hardest case for graph indexes). ``clustered``:
    ``clusters`` centres drawn with std 3, points = centre + standard normal noise.
    """
    check_metric(metric)
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"unknown distribution {distribution!r}: choose one of {', '.join(DISTRIBUTIONS)}")
    if n < 1 or dim < 1 or nq < 1:
        raise ValueError(f"synthetic dataset needs n, dim, nq >= 1 (got n={n}, dim={dim}, nq={nq})")
    rng = np.random.default_rng(seed)
    centers = 3 * rng.standard_normal((clusters, dim), dtype=np.float32)
    base = _draw(rng, n, dim, distribution, centers)
    queries = _draw(rng, nq, dim, distribution, centers)
    name = f"synthetic-{distribution}-{dim}d-seed{seed}"
    return Dataset(name, base, queries, metric, ground_truth(base, queries, min(k, n), metric))


def _scores(block: np.ndarray, queries: np.ndarray, metric: str) -> np.ndarray:
    """Higher is closer: -L2², inner product, or cosine similarity."""
    if metric == "L2":
        return 2.0 * queries @ block.T - (block * block).sum(axis=1)[None, :]
    if metric == "COSINE":
        norms = np.linalg.norm(block, axis=1)
        return (queries @ block.T) / np.where(norms == 0, 1, norms)[None, :]
    return queries @ block.T


def ground_truth(base: np.ndarray, queries: np.ndarray, k: int, metric: str,
                 chunk_rows: int = 100_000) -> np.ndarray:
    """Exact top-``k`` ids per query: BLAS matmul per block, per-block top-k merged."""
    check_metric(metric)
    if base.shape[1] != queries.shape[1]:
        raise ValueError(f"query dim {queries.shape[1]} differs from base dim {base.shape[1]}")
    q = queries.astype(np.float32)
    if metric == "COSINE":
        q = q / np.where((nrm := np.linalg.norm(q, axis=1, keepdims=True)) == 0, 1, nrm)
    best_s = np.full((len(q), 0), -np.inf, dtype=np.float32)
    best_i = np.empty((len(q), 0), dtype=np.int64)
    for start in range(0, base.shape[0], chunk_rows):
        block = np.asarray(base[start:start + chunk_rows], dtype=np.float32)
        s = _scores(block, q, metric)
        kk = min(k, s.shape[1])
        part = np.argpartition(-s, kk - 1, axis=1)[:, :kk]
        best_s = np.concatenate([best_s, np.take_along_axis(s, part, 1)], axis=1)
        best_i = np.concatenate([best_i, part + start], axis=1)
        if best_s.shape[1] > k:
            keep = np.argpartition(-best_s, k - 1, axis=1)[:, :k]
            best_s, best_i = np.take_along_axis(best_s, keep, 1), np.take_along_axis(best_i, keep, 1)
    order = np.argsort(-best_s, axis=1, kind="stable")
    return np.take_along_axis(best_i, order, 1)


def recall_at_k(found: list[list[int]], truth: np.ndarray, k: int) -> float:
    """Mean fraction of the true top-``k`` ids present in each result's first ``k`` ids."""
    if not found:
        return float("nan")
    hits = [len(set(ids[:k]) & set(truth[i, :k].tolist())) / k for i, ids in enumerate(found)]
    return float(np.mean(hits))
