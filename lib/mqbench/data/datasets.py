"""Datasets by name (``data/datasets.yaml``) or by path, with query vectors and exact ground truth.

Bases are streamed (:mod:`mqbench.data.formats`); ground truth is the file's own (verified on a sample)
or computed exactly by chunked brute force and cached under ``data/cache/``. Distances follow
Milvus's conventions: squared L2 (smaller is closer), IP and COSINE similarity (larger is closer).
"""
from __future__ import annotations

import hashlib
import importlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from tqdm import tqdm

from mqbench.core.errors import FormatError, ParameterError
from mqbench.core.paths import DATA, PROJECT_ROOT
from mqbench.data.formats import (
    ArraySource,
    Hdf5Dataset,
    ParquetSource,
    Source,
    open_vectors,
    read_bigann_groundtruth,
    read_vdbb_neighbors,
    vdbb_files,
)

METRICS = ("L2", "IP", "COSINE")
DISTRIBUTIONS = ("gauss", "clustered")
REGISTRY = DATA / "datasets.yaml"
SYNTHETIC_BLOCK = 65_536


def cache_dir() -> Path:
    """``$MQBENCH_DATA_CACHE``, else ``data/cache/`` (never committed)."""
    return Path(os.environ.get("MQBENCH_DATA_CACHE", DATA / "cache"))


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ParameterError(f"unknown metric {metric!r}: choose one of {', '.join(METRICS)}")
    return metric


@dataclass
class Dataset:
    name: str
    metric: str
    base: Source
    queries: np.ndarray            # (nq, dim) float32
    n: int                         # base rows used (a prefix of the source)
    neighbors: np.ndarray | None = None   # (nq, k) base ids, closest first
    distances: np.ndarray | None = None   # (nq, k) in Milvus's convention
    ground_truth: str = "none"     # provided | computed | cached | none
    info: dict = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return self.base.dim

    def recall(self, found_ids: list, k: int) -> float:
        """recall@``k`` of ``found_ids`` (per query, in order) with ties judged on recomputed distances."""
        if k > self.neighbors.shape[1]:
            raise ParameterError(f"recall@{k} needs ground truth {k} deep; {self.name}'s is {self.neighbors.shape[1]}")
        found_dist = distances_of(self.base, self.queries, found_ids, self.metric) \
            if self.distances is not None else None
        return recall_at_k(found_ids, self.neighbors, k, found_dist, self.distances, self.metric)

    def ndcg(self, found_ids: list, k: int) -> float:
        return ndcg_at_k(found_ids, self.neighbors, k)

    def difficulty(self, sample: int = 10_000) -> dict:
        """How hard its queries are, as ``data_*`` columns: the median *relative contrast* (mean distance to a
        base row ÷ distance to the nearest neighbour, He et al. 2012; near 1 is hard) and the median *local
        intrinsic dimensionality* (maximum-likelihood estimate over the ground truth's k neighbours, Amsaleg et
        al. 2015; higher is harder). Euclidean distances (between unit vectors for COSINE); the mean distance
        over the first ``sample`` base rows. Empty without ground truth or for IP."""
        if self.distances is None or self.metric == "IP" or self.distances.shape[1] < 2:
            return {}
        q = np.asarray(self.queries, dtype=np.float64)
        base = self.base.read_all(min(sample, self.n)).astype(np.float64)
        if self.metric == "COSINE":
            q, base = (x / np.where((nx := np.linalg.norm(x, axis=1, keepdims=True)) == 0, 1, nx) for x in (q, base))
            knn = np.sqrt(np.clip(2 - 2 * self.distances.astype(np.float64), 0, None))
        else:  # Milvus's L2 is squared
            knn = np.sqrt(np.clip(self.distances.astype(np.float64), 0, None))
        to_base = np.sqrt(np.clip((q * q).sum(1)[:, None] - 2 * q @ base.T + (base * base).sum(1)[None], 0, None))
        with np.errstate(divide="ignore", invalid="ignore"):
            rc = to_base.mean(axis=1) / knn[:, 0]
            lid = -1 / np.log(knn[:, :-1] / knn[:, -1:]).mean(axis=1)
        finite = lambda x: x[np.isfinite(x)]  # noqa: E731 — a query on top of a base row has no contrast
        return {"data_rc": float(np.median(finite(rc))) if finite(rc).size else np.nan,
                "data_lid": float(np.median(finite(lid))) if finite(lid).size else np.nan,
                "data_difficulty_k": int(knn.shape[1])}

    def with_ground_truth(self, k: int = 100, progress: bool = True) -> "Dataset":
        """Compute exact top-``k`` (or load it from the cache) unless the dataset brings its own."""
        if self.neighbors is not None and self.neighbors.shape[1] >= k:
            return self
        key = {"dataset": self.name, "source": self.info.get("identity", self.base.path), "n": self.n,
               "queries": hashlib.sha1(self.queries.tobytes()).hexdigest(), "k": k, "metric": self.metric}
        path = cache_dir() / "groundtruth" / (hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16] + ".npz")
        if path.exists():
            cached = np.load(path)
            self.neighbors, self.distances, self.ground_truth = cached["ids"], cached["dist"], "cached"
            return self
        self.neighbors, self.distances = exact_ground_truth(self.base, self.queries, k, self.metric, self.n,
                                                            progress=progress)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, ids=self.neighbors, dist=self.distances, key=json.dumps(key))
        tmp.replace(path)
        self.ground_truth = "computed"
        return self


# -- synthetic -------------------------------------------------------------------------------------------
class SyntheticSource(Source):
    """Seeded vectors generated block by block: row ``i`` is the same whatever the chunk size."""

    def __init__(self, n: int, dim: int, distribution: str, seed: int, clusters: int = 64, stream: int = 0,
                 spread: float = 3.0):
        if distribution not in DISTRIBUTIONS:
            raise ParameterError(f"unknown distribution {distribution!r}: choose one of {', '.join(DISTRIBUTIONS)}")
        if n < 1 or dim < 1:
            raise ParameterError(f"synthetic data needs n, dim >= 1 (got n={n}, dim={dim})")
        self.n, self.dim, self.dtype = int(n), int(dim), np.dtype(np.float32)
        self.distribution, self.seed, self.stream = distribution, seed, stream
        self.path = f"synthetic:{distribution}:{dim}d:seed{seed}"
        # the centres' std against unit noise: the difficulty (3 keeps clusters apart; near 1 they overlap)
        self.centers = spread * np.random.default_rng([seed, 0]).standard_normal((clusters, dim), dtype=np.float32)
        self._last: tuple[int, np.ndarray] | None = None  # the block made last: chunks smaller than a block reuse it

    def _block(self, b: int) -> np.ndarray:
        if self._last is None or self._last[0] != b:
            self._last = (b, self._make(b))
        return self._last[1]

    def _make(self, b: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, 1 + self.stream, b])
        rows = min(SYNTHETIC_BLOCK, self.n - b * SYNTHETIC_BLOCK)
        noise = rng.standard_normal((rows, self.dim), dtype=np.float32)
        if self.distribution == "gauss":
            return noise
        return self.centers[rng.integers(0, len(self.centers), size=rows)] + noise

    def _rows(self, start, stop):
        first, last = start // SYNTHETIC_BLOCK, (stop - 1) // SYNTHETIC_BLOCK
        block = self._block(first) if first == last else np.concatenate([self._block(b) for b in range(first, last + 1)])
        return block[start - first * SYNTHETIC_BLOCK: stop - first * SYNTHETIC_BLOCK]


def synthetic(n: int, dim: int, nq: int = 100, metric: str = "L2", seed: int = 42, k: int = 100,
              distribution: str = "clustered", clusters: int = 64, ground_truth: bool = True,
              spread: float = 3.0) -> Dataset:
    """``gauss``: i.i.d. standard normal (hardest for graph indexes). ``clustered``: ``clusters``
    centres drawn with std ``spread``, each point a centre plus standard normal noise (the smaller the
    spread against the noise, the more the clusters overlap and the harder the queries:
    :meth:`Dataset.difficulty` measures it). Queries are a separate stream from the same distribution."""
    check_metric(metric)
    if nq < 1:
        raise ParameterError(f"synthetic data needs nq >= 1 (got nq={nq})")
    base = SyntheticSource(n, dim, distribution, seed, clusters, spread=spread)
    queries = SyntheticSource(nq, dim, distribution, seed, clusters, stream=1, spread=spread).read_all()
    shape = f":clusters{clusters}" + (f":spread{spread:g}" if spread != 3.0 else "")
    data = Dataset(f"synthetic-{distribution}", metric, base, queries, n,
                   info={"identity": f"{base.path}{shape}:n{n}"})
    return data.with_ground_truth(min(k, n), progress=False) if ground_truth else data


# -- ground truth ----------------------------------------------------------------------------------------
def _scores(block: np.ndarray, queries: np.ndarray, metric: str) -> np.ndarray:
    """Larger is closer: -(‖x‖² - 2q·x) for L2, q·x for IP, q·x/‖x‖ for COSINE (queries normalised)."""
    if metric == "L2":
        return 2.0 * queries @ block.T - (block * block).sum(axis=1)[None, :]
    if metric == "COSINE":
        norms = np.linalg.norm(block, axis=1)
        return (queries @ block.T) / np.where(norms == 0, 1, norms)[None, :]
    return queries @ block.T


def _to_milvus(scores: np.ndarray, queries: np.ndarray, metric: str) -> np.ndarray:
    if metric == "L2":
        return np.maximum((queries * queries).sum(axis=1, keepdims=True) - scores, 0)
    return scores


def exact_ground_truth(base: Source, queries: np.ndarray, k: int, metric: str, n: int | None = None,
                       chunk_rows: int = 100_000, progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` base ids and distances per query: BLAS matmul per block, per-block top-k merged."""
    check_metric(metric)
    if base.dim != queries.shape[1]:
        raise ParameterError(f"query dim {queries.shape[1]} differs from base dim {base.dim}")
    n = base.check_limit(n)
    k = min(k, n)
    q = np.ascontiguousarray(queries, dtype=np.float32)
    if metric == "COSINE":
        q = q / np.where((norm := np.linalg.norm(q, axis=1, keepdims=True)) == 0, 1, norm)
    best_s = np.full((len(q), 0), -np.inf, dtype=np.float32)
    best_i = np.empty((len(q), 0), dtype=np.int64)
    with tqdm(total=n, unit="rows", desc="ground truth", disable=not progress, mininterval=1.0) as bar:
        for ids, block in base.chunks(chunk_rows, limit=n):
            s = _scores(block, q, metric)
            kk = min(k, s.shape[1])
            part = np.argpartition(-s, kk - 1, axis=1)[:, :kk]
            best_s = np.concatenate([best_s, np.take_along_axis(s, part, 1)], axis=1)
            best_i = np.concatenate([best_i, ids[part]], axis=1)
            if best_s.shape[1] > k:
                keep = np.argpartition(-best_s, k - 1, axis=1)[:, :k]
                best_s, best_i = np.take_along_axis(best_s, keep, 1), np.take_along_axis(best_i, keep, 1)
            bar.update(len(block))
    order = np.argsort(-best_s, axis=1, kind="stable")
    return np.take_along_axis(best_i, order, 1), _to_milvus(np.take_along_axis(best_s, order, 1), q, metric)


def ground_truth(base: np.ndarray, queries: np.ndarray, k: int, metric: str, chunk_rows: int = 100_000):
    """Exact top-``k`` ids for an in-memory base (see :func:`exact_ground_truth`)."""
    return exact_ground_truth(ArraySource(base), queries, k, metric, chunk_rows=chunk_rows, progress=False)[0]


def verify_ground_truth(data: Dataset) -> None:
    """Check provided ground truth against the base and recompute its distances in Milvus's convention.

    Refuses ids out of range (e.g. a 1B base's ground truth used with a 100M base) and neighbour
    lists that are not sorted by the dataset's metric.
    """
    ids = data.neighbors
    if ids.shape[0] != len(data.queries):
        raise FormatError(f"{data.name}: ground truth has {ids.shape[0]} rows for {len(data.queries)} queries")
    if isinstance(data.base, ParquetSource):  # ids are keys, not positions: no random access
        unknown = ids[~np.isin(ids, data.base.all_ids(data.n))]
        if unknown.size:
            raise FormatError(f"{data.name}: ground truth refers to id {unknown[0]}, which is not among the "
                              f"first n={data.n} base ids")
        data.distances = None
        return
    if ids.min() < 0 or ids.max() >= data.n:
        raise FormatError(f"{data.name}: ground truth refers to id {ids.max()} but the base has n={data.n} rows "
                          "(made for a larger base?); recompute it for this n")
    q = np.ascontiguousarray(data.queries, dtype=np.float32)
    if data.metric == "COSINE":
        q = q / np.where((norm := np.linalg.norm(q, axis=1, keepdims=True)) == 0, 1, norm)
    dist = np.empty(ids.shape, np.float32)
    for i in range(len(q)):
        dist[i] = _to_milvus(_scores(data.base.take(ids[i]), q[i:i + 1], data.metric), q[i:i + 1], data.metric)[0]
    steps = np.diff(dist, axis=1) if data.metric == "L2" else -np.diff(dist, axis=1)
    bad = np.flatnonzero((steps < -1e-3 * (1 + np.abs(dist[:, :-1]))).any(axis=1))
    if bad.size:
        raise FormatError(f"{data.name}: ground truth of query {bad[0]} is not sorted by {data.metric} distance "
                          "(wrong metric or wrong base?)")
    data.distances = dist


# -- quality ---------------------------------------------------------------------------------------------
def distances_of(base: Source, queries: np.ndarray, ids: list, metric: str) -> list[np.ndarray] | None:
    """Milvus-convention distances from each query to its returned ``ids``, recomputed from the base
    vectors (never the server's scores, which are approximate for quantised indexes); None when the
    base has no positional access (a parquet folder, whose ids are keys)."""
    if isinstance(base, ParquetSource):
        return None
    q = np.ascontiguousarray(queries, dtype=np.float32)
    if metric == "COSINE":
        q = q / np.where((norm := np.linalg.norm(q, axis=1, keepdims=True)) == 0, 1, norm)
    out = []
    for i, found in enumerate(ids):
        found = np.asarray([x for x in found if 0 <= x < base.n], dtype=np.int64)
        if found.size == 0:
            out.append(np.empty(0, np.float32))
            continue
        out.append(_to_milvus(_scores(base.take(found), q[i:i + 1], metric), q[i:i + 1], metric)[0])
    return out


def recall_at_k(found: list, truth: np.ndarray, k: int, found_dist: list | None = None,
                truth_dist: np.ndarray | None = None, metric: str = "L2") -> float:
    """Mean fraction of the true top-``k`` found. With distances, a returned id also counts as a hit
    when its distance — recomputed from the base vectors (:func:`distances_of`) — ties the true k-th
    distance within a relative 1e-4 (as ann-benchmarks recomputes distances; big-ann-benchmarks instead
    extends the ground-truth list with ties)."""
    if not found:
        return float("nan")
    scores = []
    for i, ids in enumerate(found):
        truth_ids = set(truth[i][:k].tolist())
        hits = [x in truth_ids for x in ids[:k]]
        if found_dist is not None and truth_dist is not None:
            kth = truth_dist[i][k - 1]
            eps = 1e-4 * (1 + abs(kth))
            d = found_dist[i]
            close = (d <= kth + eps) if metric == "L2" else (d >= kth - eps)
            hits = [h or bool(c) for h, c in zip(hits, close[:k])]
        scores.append(min(sum(hits), k) / k)
    return float(np.mean(scores))


def ndcg_at_k(found: list, truth: np.ndarray, k: int) -> float:
    """NDCG@k with binary relevance (a result is relevant if it is in the true top-``k``)."""
    if not found:
        return float("nan")
    discounts = 1 / np.log2(np.arange(2, k + 2))
    ideal = discounts.sum()
    return float(np.mean([sum(discounts[r] for r, i in enumerate(ids[:k]) if i in set(truth[q, :k].tolist()))
                          / ideal for q, ids in enumerate(found)]))


# -- registry and paths ----------------------------------------------------------------------------------
def registry() -> dict:
    return yaml.safe_load(REGISTRY.read_text()) or {}


def _package_path(spec: dict) -> Path:
    module = importlib.import_module(spec["package"])
    return Path(module.ROOT) / spec["file"]


def _holdout(source: Source, queries: int) -> tuple[Source, np.ndarray, int]:
    """The last ``queries`` rows are the queries; the base is every row before them."""
    if queries >= source.n:
        raise FormatError(f"{source.path}: cannot hold out {queries} query rows from {source.n}")
    return source, source.take(np.arange(source.n - queries, source.n)), source.n - queries


def load(name_or_path: str, n: int | None = None, nq: int | None = None, k: int = 100, metric: str = "",
         dim: int = 128, seed: int = 42, ground_truth: bool = True, progress: bool = True) -> Dataset:
    """A dataset by registry name or by path, limited to the first ``n`` base rows and ``nq`` queries.

    ``metric`` overrides the dataset's own only for synthetic data (real data carry theirs);
    ``dim`` and ``seed`` apply to synthetic data.
    """
    spec = registry().get(name_or_path)
    if spec is None:
        data = _from_path(Path(name_or_path), metric)
    elif spec["format"] == "synthetic":
        data = synthetic(n or 10_000, dim, nq or 100, metric or spec.get("metric", "L2"), seed, k,
                         spec["distribution"], spec.get("clusters", 64), ground_truth, spec.get("spread", 3.0))
        data.name = name_or_path
        return data
    else:
        data = _from_spec(name_or_path, spec)
    if metric and metric != data.metric:
        raise ParameterError(f"{data.name} is a {data.metric} dataset; metric={metric!r} does not apply to it")
    full_n = data.n
    data.n = data.base.check_limit(n) if n else full_n
    if nq:
        if nq > len(data.queries):
            raise FormatError(f"{data.name}: asked for {nq} queries, it has {len(data.queries)}")
        data.queries = data.queries[:nq]
        if data.neighbors is not None:
            data.neighbors = data.neighbors[:nq]
            data.distances = None if data.distances is None else data.distances[:nq]
    if data.neighbors is not None:
        if data.n < full_n:  # provided ground truth is for the full base, not a prefix
            data.neighbors = data.distances = None
            data.ground_truth = "none"
        else:
            verify_ground_truth(data)
    return data.with_ground_truth(k, progress) if ground_truth else data


def _from_spec(name: str, spec: dict) -> Dataset:
    """A registry entry: ``package``+``file`` or ``path``; queries as ``queries: {holdout_tail: N}``
    or ``queries: {path: F}``; optional ``groundtruth: {path: F}`` (big-ann ``.bin`` or ``.ivecs``)."""
    path = _package_path(spec) if "package" in spec else (PROJECT_ROOT / spec["path"])
    source, queries_spec = open_vectors(path), spec.get("queries", {})
    if queries_spec.get("holdout_tail"):
        base, queries, n = _holdout(source, queries_spec["holdout_tail"])
    elif queries_spec.get("path"):
        base, queries, n = source, open_vectors(PROJECT_ROOT / queries_spec["path"]).read_all(), source.n
    else:
        raise FormatError(f"datasets.yaml entry {name!r} needs queries: {{holdout_tail: N}} or {{path: F}}")
    data = Dataset(name, check_metric(spec["metric"]), base, queries, n,
                   info={"identity": f"{name}:{path}", "description": spec.get("description", "")})
    gt = spec.get("groundtruth", {}).get("path")
    if gt:
        gt = PROJECT_ROOT / gt
        data.neighbors = (read_bigann_groundtruth(gt)[0] if gt.suffix == ".bin"
                          else open_vectors(gt).read_all().astype(np.int64))
        data.ground_truth = "provided"
    return data


def _from_path(path: Path, metric: str) -> Dataset:
    if not path.exists():
        raise FormatError(f"{path}: no such dataset name or path (names: {', '.join(registry())})")
    if path.is_dir():
        if not metric:
            raise FormatError(f"{path}: a VectorDBBench parquet folder does not record its metric; pass metric")
        base = ParquetSource(vdbb_files(path), str(path))
        test = ParquetSource([str(path / "test.parquet")], str(path / "test.parquet"))
        queries = test.read_all()
        data = Dataset(path.name, check_metric(metric), base, queries, base.n, info={"identity": str(path)})
        if (path / "neighbors.parquet").exists():
            qids, neighbors = read_vdbb_neighbors(path / "neighbors.parquet")
            test_ids = np.concatenate([ids for ids, _ in test.chunks()])
            order = {int(q): r for r, q in enumerate(qids)}
            data.neighbors = neighbors[[order[int(q)] for q in test_ids]]
            data.ground_truth = "provided"
        return data
    if path.suffix.lower() in (".hdf5", ".h5"):
        h5 = Hdf5Dataset(path)
        data = Dataset(path.stem, h5.metric, h5.base, h5.queries, h5.base.n, info={"identity": str(path)})
        if h5.neighbors is not None:
            data.neighbors, data.ground_truth = h5.neighbors, "provided"
        return data
    source = open_vectors(path)
    siblings = _texmex_siblings(path)
    if siblings:
        queries = open_vectors(siblings[0]).read_all()
        data = Dataset(path.stem, metric or "L2", source, queries, source.n, info={"identity": str(path)})
        if siblings[1] is not None:
            data.neighbors = open_vectors(siblings[1]).read_all().astype(np.int64)
            data.ground_truth = "provided"
        return data
    base, queries, n = _holdout(source, min(1000, max(1, source.n // 10)))
    return Dataset(path.stem, metric or "L2", base, queries, n, info={"identity": str(path)})


def _texmex_siblings(path: Path) -> tuple[Path, Path | None] | None:
    """``x_base.fvecs`` → (``x_query.fvecs``, ``x_groundtruth.ivecs`` or None) when the query file exists."""
    if "_base" not in path.stem:
        return None
    query = path.with_name(path.name.replace("_base", "_query"))
    if not query.exists():
        return None
    gt = path.with_name(path.stem.replace("_base", "_groundtruth") + ".ivecs")
    return query, gt if gt.exists() else None


def describe(data: Dataset) -> dict:
    return {"name": data.name, "rows": data.n, "dim": data.dim, "dtype": np.dtype(data.base.dtype).name,
            "metric": data.metric, "queries": len(data.queries), "source": data.base.path,
            "ground_truth": data.ground_truth if data.neighbors is not None else "none (computed on demand)",
            "ground_truth_k": None if data.neighbors is None else int(data.neighbors.shape[1])}
