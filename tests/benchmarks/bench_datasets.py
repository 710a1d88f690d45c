"""Dataset-side targets, printed (run by hand; not collected by pytest):

1. Streaming a 10M x 128 float32 .fbin through the reader keeps the reader's peak RSS under 1 GB and
   reads at >= 50% of the disk's sequential read rate measured in the same run (page cache dropped
   for the file before each pass with posix_fadvise DONTNEED).
2. Exact ground truth for 1,000 queries over 1M x 128 in <= 30 s on this host.

    .venv/bin/python tests/benchmarks/bench_datasets.py [--rows 10000000] [--dir /path/with/space]
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from mqbench.data.datasets import SyntheticSource, exact_ground_truth
from mqbench.data.formats import open_vectors

CHUNK = 262_144


def write_fbin(path: Path, rows: int, dim: int) -> None:
    rng = np.random.default_rng(0)
    with open(path, "wb") as fh:
        np.array([rows, dim], "<u4").tofile(fh)
        for start in range(0, rows, CHUNK):
            rng.standard_normal((min(CHUNK, rows - start), dim), dtype=np.float32).tofile(fh)


def drop_cache(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)


def raw_read_mb_s(path: Path) -> float:
    drop_cache(path)
    t0 = time.perf_counter()
    with open(path, "rb", buffering=0) as fh:
        while fh.read(16 << 20):
            pass
    return path.stat().st_size / 1e6 / (time.perf_counter() - t0)


def reader_pass(path: str) -> None:
    """Runs in a child process so its peak RSS is the reader's alone."""
    src = open_vectors(path)
    t0 = time.perf_counter()
    total = 0.0
    for _, block in src.chunks(100_000):
        total += float(block[:, 0].sum())
    elapsed = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{Path(path).stat().st_size / 1e6 / elapsed:.1f} {peak_mb:.1f}")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--reader-pass":
        return reader_pass(sys.argv[2])
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--dir", default=None, help="where to write the test file (needs rows*dim*4 bytes)")
    ap.add_argument("--gt-rows", type=int, default=1_000_000)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "base.fbin"
        t0 = time.perf_counter()
        write_fbin(path, args.rows, args.dim)
        print(f"wrote {args.rows:,} x {args.dim} float32 ({path.stat().st_size / 1e9:.2f} GB) "
              f"in {time.perf_counter() - t0:.1f} s")
        disk = raw_read_mb_s(path)
        drop_cache(path)
        out = subprocess.run([sys.executable, __file__, "--reader-pass", str(path)], capture_output=True,
                             text=True, check=True).stdout.split()
        reader, peak = float(out[0]), float(out[1])
        print(f"disk sequential read (16 MiB reads): {disk:8.1f} MB/s")
        print(f"mqbench reader (100k-row chunks):    {reader:8.1f} MB/s = {100 * reader / disk:.0f}% of disk "
              f"(target >= 50%)")
        print(f"reader peak RSS:                     {peak:8.1f} MB (target < 1000 MB)")

    base = SyntheticSource(args.gt_rows, args.dim, "gauss", seed=1)
    queries = SyntheticSource(1000, args.dim, "gauss", seed=2).read_all()
    t0 = time.perf_counter()
    exact_ground_truth(base, queries, 100, "L2", progress=False)
    print(f"exact top-100 ground truth, 1,000 queries over {args.gt_rows:,} x {args.dim}: "
          f"{time.perf_counter() - t0:.1f} s on {os.cpu_count()} cores (target <= 30 s; includes generating "
          "the synthetic base)")


if __name__ == "__main__":
    main()
