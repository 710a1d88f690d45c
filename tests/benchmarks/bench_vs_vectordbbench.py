"""mqbench's load and search engines against VectorDBBench 1.0.20 and a plain pymilvus loop — same server,
same data, same index, same search parameters, same concurrency levels, one run. Prints the figures.

Run by hand (not collected by pytest):

    .venv/bin/python tests/benchmarks/bench_vs_vectordbbench.py [--n 100000] [--duration 10]

VectorDBBench 1.0.20 is the newest release that completes against Milvus 2.3 (later ones wait for
``is_sorted`` segments); it pins pydantic 1.x, so it lives in its own venv ``.venv-vdbb`` (made here if
missing). Both sides use Session consistency (VectorDBBench's collection default), COSINE HNSW M=16
efConstruction=128, ef=128, k=10, on the first ``n`` GloVe 6B 50-d vectors.

Printed: search RPS per concurrency for mqbench's ClientPool, VectorDBBench and one plain pymilvus loop,
the peak ratios; insert throughput of mqbench's loader (``mqbench.data.loader``, 2 processes) vs VectorDBBench's
insert stage (both until every insert is acknowledged); and the client overhead per request — time outside
the gRPC ``Search`` call ÷ serial latency.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from mqbench.data import datasets, loader
from mqbench.measure import workload
from mqbench.milvus.server import EmbeddedMilvus

ROOT = Path(__file__).resolve().parents[2]
VDBB_VENV = ROOT / ".venv-vdbb"
VDBB_VERSION = "1.0.20"
INDEX = {"M": 16, "efConstruction": 128}
EF, K = 128, 10


def vdbb_python() -> Path:
    """The venv's python, with vectordb-bench installed."""
    py = VDBB_VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VDBB_VENV)], check=True)
    probe = subprocess.run([str(py), "-c", "import importlib.metadata as m; print(m.version('vectordb-bench'))"],
                           capture_output=True, text=True)
    if probe.stdout.strip() != VDBB_VERSION:
        subprocess.run([str(py), "-m", "pip", "install", "-q", f"vectordb-bench=={VDBB_VERSION}"], check=True)
    return py


def write_vdbb_dataset(data, folder: Path) -> None:
    """VectorDBBench's custom-dataset layout: train.parquet, test.parquet, neighbors.parquet."""
    folder.mkdir(parents=True, exist_ok=True)
    base = data.base.read_all(data.n)
    pd.DataFrame({"id": np.arange(data.n), "emb": list(base)}).to_parquet(folder / "train.parquet")
    pd.DataFrame({"id": np.arange(len(data.queries)), "emb": list(data.queries)}).to_parquet(folder / "test.parquet")
    pd.DataFrame({"id": np.arange(len(data.queries)),
                  "neighbors_id": list(data.neighbors[:, :100])}).to_parquet(folder / "neighbors.parquet")


def run_vdbb(py: Path, server: EmbeddedMilvus, data, folder: Path, levels: list[int], duration: int) -> dict:
    """VectorDBBench's load + concurrent search (serial search skipped) on ``server``; its result metrics."""
    results = folder / "vdbb-results"
    env = {**os.environ, "RESULTS_LOCAL_DIR": str(results), "DATASET_LOCAL_DIR": str(folder / "vdbb-cache")}
    user, password = server.connection.token.split(":", 1)
    cmd = [str(py.parent / "vectordbbench"), "milvushnsw", "--uri", server.uri,
           "--user-name", user, "--password", password, "--case-type", "PerformanceCustomDataset",
           "--custom-case-name", "mqbench", "--custom-dataset-name", "glove", "--custom-dataset-dir",
           str(folder / "dataset"), "--custom-dataset-size", str(data.n), "--custom-dataset-dim", str(data.dim),
           "--custom-dataset-metric-type", "COSINE", "--custom-dataset-file-count", "1",
           "--skip-search-serial", "--k", str(K), "--num-concurrency", ",".join(map(str, levels)),
           "--concurrency-duration", str(duration), "--m", str(INDEX["M"]),
           "--ef-construction", str(INDEX["efConstruction"]), "--ef-search", str(EF), "--db-label", "mqbench"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=folder, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - t0
    files = sorted(results.rglob("result_*.json"))
    if proc.returncode != 0 or not files:
        raise SystemExit(f"VectorDBBench failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    metrics = json.loads(files[-1].read_text())["results"][0]["metrics"]
    return {**metrics, "wall_s": wall}


def plain_loop(conn, spec: workload.Spec, duration: float) -> float:
    """Requests per second of one process calling pymilvus's public ``MilvusClient.search`` back to back."""
    from pymilvus import MilvusClient

    client = MilvusClient(uri=conn.uri, token=conn.token)
    queries = spec.queries.tolist()
    done, end = 0, time.perf_counter() + duration
    while time.perf_counter() < end:
        client.search(spec.collection, data=[queries[done % len(queries)]], limit=K, anns_field="vector",
                      search_params={"params": {"ef": EF}}, consistency_level=spec.consistency)
        done += 1
    client.close()
    return done / duration


def client_overhead(conn, spec: workload.Spec, requests: int) -> tuple[float, float]:
    """Serial loop as the engine runs it, with the gRPC ``Search`` stub timed: (ms per request, share
    of that spent outside the gRPC call)."""
    client = conn.client()
    request = workload.Requester(client, spec)
    stub, inside = request.search.stub, [0]

    def timed(*args, **kwargs):
        t0 = time.perf_counter_ns()
        try:
            return stub(*args, **kwargs)
        finally:
            inside[0] += time.perf_counter_ns() - t0

    request.search.stub = timed
    for i in range(50):
        workload._timed(request, i)  # warm-up
    inside[0] = 0
    t0 = time.perf_counter_ns()
    for i in range(requests):
        workload._timed(request, i)
    total = time.perf_counter_ns() - t0
    client.close()
    return total / requests / 1e6, 1 - inside[0] / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds per concurrency level")
    parser.add_argument("--levels", default="1,2,4,8")
    parser.add_argument("--mq", default="rocksmq")
    args = parser.parse_args()
    levels = [int(c) for c in args.levels.split(",")]
    py = vdbb_python()
    data = datasets.load("glove-50-angular", n=args.n, nq=1000, k=100)
    with tempfile.TemporaryDirectory(prefix="mqbench-vdbb-") as tmp:
        folder = Path(tmp)
        write_vdbb_dataset(data, folder / "dataset")
        with EmbeddedMilvus(args.mq, folder / "server") as server:
            conn = server.connection
            vdbb = run_vdbb(py, server, data, folder, levels, args.duration)
            with conn.client() as client:
                client.create_collection("mqbench", data.dim, attr=True)
                loaded = loader.load(conn, "mqbench", data.base, data.n, batch_mb=4.0, workers=2, show_progress=False)
                insert_s = loaded.seconds
                client.flush("mqbench")
                client.build_index("mqbench", "COSINE", "HNSW", INDEX)
                client.load("mqbench")
            spec = workload.Spec("search", "mqbench", "Session", queries=data.queries, k=K,
                                 search_params={"ef": EF})
            ours = {}
            with workload.ClientPool(conn, max(levels)) as pool:
                for c in levels:
                    ours[c] = pool.closed_loop(spec, c, args.duration, 2.0)
            plain = plain_loop(conn, spec, args.duration)
            per_request_ms, outside = client_overhead(conn, spec, 2000)
    print(f"host: {os.cpu_count()} logical cores; server {args.mq}; GloVe-50 n={data.n}; HNSW {INDEX}, ef={EF}, "
          f"k={K}, Session consistency; {args.duration} s per level")
    print(f"{'clients':>8} {'mqbench rps':>12} {'VDBB rps':>10} {'ratio':>6} {'client CPU share':>17}")
    vdbb_qps = dict(zip(vdbb["conc_num_list"], vdbb["conc_qps_list"]))
    for c in levels:
        rps = ours[c].completed_in_window() / ours[c].window_s
        share = ours[c].client_cpu_s / (ours[c].client_span_s * os.cpu_count())
        print(f"{c:>8} {rps:>12.1f} {vdbb_qps.get(c, float('nan')):>10.1f} "
              f"{rps / vdbb_qps.get(c, float('nan')):>6.2f} {share:>17.2f}")
    peak = max(r.completed_in_window() / r.window_s for r in ours.values())
    print(f"peak search RPS: mqbench {peak:.1f}, VectorDBBench {max(vdbb['conc_qps_list']):.1f} "
          f"(ratio {peak / max(vdbb['conc_qps_list']):.2f}), plain pymilvus loop in one process {plain:.1f} "
          f"(ratio {peak / plain:.2f})")
    print(f"insert: mqbench loader (2 processes, 4 MiB batches) {data.n / insert_s:,.0f} rows/s ({insert_s:.1f} s), "
          f"VectorDBBench "
          f"{data.n / vdbb['insert_duration']:,.0f} rows/s ({vdbb['insert_duration']:.1f} s; ratio "
          f"{vdbb['insert_duration'] / insert_s:.2f})")
    print(f"client overhead: {outside * 100:.2f}% of a {per_request_ms:.3f} ms serial search is outside the gRPC "
          f"Search call (target <= 5%)")


if __name__ == "__main__":
    main()
