"""Bulk import: the data written as the per-field ``.npy`` files Milvus 2.3 imports, then ``bulk insert``
tasks driven to completion with progress and per-task status.

Milvus 2.3 imports one set of column files per task (``id.npy``, ``vector.npy`` and ``attr.npy`` when the
collection has it), each file at most 16 GB; the server reads them from its own storage, so for an
embedded server (local storage) they are written inside its data folder.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mqbench.core import progress
from mqbench.core.errors import IngestError
from mqbench.data.formats import Source
from mqbench.data.ingest import target
from mqbench.milvus.client import ATTR_FIELD, ID_FIELD, VECTOR_FIELD, attr_values
from mqbench.milvus.server import Connection

MAX_FILE_BYTES = 16 * 2**30
DONE_STATES, FAILED_STATES = {"Completed"}, {"Failed", "Failed and cleaned"}


def write_npy(source: Source, n: int | None, folder: Path, with_attr: bool,
              file_mb: float = 1024) -> tuple[list[list[str]], int]:
    """Column files for the first ``n`` rows of ``source``, one folder per task of about ``file_mb`` MiB of
    vectors; returns each task's file list, and the rows written."""
    total = source.check_limit(n)
    rows_per_task = max(1, int(min(file_mb * 2**20, MAX_FILE_BYTES) // (source.dim * 4)))
    tasks = []
    for t, (ids, block) in enumerate(source.chunks(rows_per_task, limit=total)):
        task = folder / f"task-{t:05d}"
        task.mkdir(parents=True, exist_ok=True)
        columns = {ID_FIELD: ids.astype(np.int64), VECTOR_FIELD: block.astype(np.float32)}
        if with_attr:
            columns[ATTR_FIELD] = attr_values(ids)
        for name, values in columns.items():
            np.save(task / f"{name}.npy", values)
        tasks.append([str(task / f"{name}.npy") for name in columns])
    return tasks, total


@dataclass
class ImportStats:
    rows: int
    tasks: int
    write_s: float
    import_s: float
    states: list = field(default_factory=list)  # final state name of each task

    @property
    def rows_per_s(self) -> float:
        """Rows per second of the import alone (files already written)."""
        return self.rows / self.import_s if self.import_s > 0 else float("nan")


def bulk_import(conn: Connection, name: str, data, n: int | None, folder: Path, file_mb: float = 1024,
                timeout_s: float = 3600, show_progress: bool = True) -> ImportStats:
    """Write ``data`` under ``folder`` as column files and import them into ``name``; waits for every task."""
    with conn.client() as client:
        into = target(client, name, data)
        t0 = time.perf_counter()
        tasks, rows = write_npy(into.source, n, Path(folder), into.with_attr, file_mb)
        write_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        ids = [client.bulk_insert(name, files) for files in tasks]
        states = _wait(client, ids, rows, timeout_s, show_progress)
        import_s = time.perf_counter() - t1
    failed = [(task_id, s) for task_id, s in zip(ids, states) if s.state_name not in DONE_STATES]
    if failed:
        task_id, state = failed[0]
        raise IngestError(f"{len(failed)} of {len(ids)} bulk-insert tasks into {name!r} failed; task {task_id}: "
                          f"{state.state_name} {state.failed_reason}")
    return ImportStats(sum(s.row_count for s in states), len(ids), write_s, import_s, [s.state_name for s in states])


def _wait(client, task_ids: list[int], rows: int, timeout_s: float, show_progress: bool) -> list:
    deadline = time.monotonic() + timeout_s
    with progress.bar(rows, "bulk insert", disable=not show_progress) as bar:
        while True:
            states = [client.bulk_state(t) for t in task_ids]
            bar.update(sum(s.row_count for s in states) - bar.n)
            if all(s.state_name in DONE_STATES | FAILED_STATES for s in states):
                return states
            if time.monotonic() > deadline:
                raise IngestError(f"bulk insert not finished after {timeout_s:.0f} s: "
                                  f"{[s.state_name for s in states]}")
            time.sleep(0.5)
