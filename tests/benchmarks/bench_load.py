"""Loading paths compared on one server per MQ: mqbench's parallel loader at 1, 2 and 4 processes vs bulk
import of the same rows as .npy column files. Prints rows/s; run by hand (not collected by pytest):

    .venv/bin/python tests/benchmarks/bench_load.py [--n 200000] [--mq rocksmq natsmq]

For the insert path two figures: until every insert is acknowledged (the data is on the MQ), and until a
flush has persisted it as segments; bulk import's "Completed" already means persisted segments, so the
second is the like-for-like comparison.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from mqbench.data import bulk, datasets, loader
from mqbench.milvus.server import EmbeddedMilvus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--mq", nargs="+", default=["rocksmq", "natsmq"])
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    data = datasets.load("glove-50-angular", n=args.n, nq=10, k=10, ground_truth=False)
    print(f"host: {os.cpu_count()} logical cores; GloVe-50, n={data.n}; 4 MiB insert batches; "
          f"bulk import in 64 MiB column files")
    print(f"{'mq':8} {'path':22} {'acknowledged rows/s':>20} {'persisted rows/s':>17}")
    for mq in args.mq:
        with tempfile.TemporaryDirectory(prefix="mqbench-load-") as tmp, EmbeddedMilvus(mq, Path(tmp)) as server:
            client = server.connection.client(timeout=600)
            for workers in [int(w) for w in args.workers.split(",")]:
                name = f"insert_{workers}"
                client.create_collection(name, data.dim, attr=True)
                stats = loader.load(server.connection, name, data.base, data.n, batch_mb=4.0, workers=workers,
                                    show_progress=False)
                t0 = time.perf_counter()
                client.flush(name)
                flushed = stats.seconds + time.perf_counter() - t0
                print(f"{mq:8} {f'loader, {workers} processes':22} {stats.rows_per_s:>20,.0f} "
                      f"{data.n / flushed:>17,.0f}")
                client.drop_collection(name)
            client.create_collection("bulk", data.dim, attr=True)
            imported = bulk.bulk_import(server.connection, "bulk", data.base, data.n,
                                        server.base_dir / "data" / "bulk-files", file_mb=64, show_progress=False)
            print(f"{mq:8} {f'bulk import, {imported.tasks} tasks':22} {'—':>20} {imported.rows_per_s:>17,.0f}"
                  f"   (+ {imported.write_s:.1f} s writing the files)")
            client.close()


if __name__ == "__main__":
    main()
