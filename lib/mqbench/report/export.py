"""VectorDBBench interop: our search_query runs as VectorDBBench 1.0.20 result files, so its UI shows them
beside its own (its custom-dataset folders are read as datasets by :mod:`mqbench.data.formats`)."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from mqbench.core import results
from mqbench.core.schema import Notebook, Op, Phase, Sweep

CUSTOM_DATASET_CASE = 101  # VectorDBBench's PerformanceCustomDataset case id


def _first(rows: pd.DataFrame, column: str) -> float:
    """The first row's value of ``column``; 0.0 (VectorDBBench's "not measured") when absent."""
    value = rows[column].iloc[0] if column in rows and len(rows) else float("nan")
    return 0.0 if pd.isna(value) else float(value)


def _case(cell: pd.DataFrame, manifest: dict) -> dict:
    """One VectorDBBench CaseResult from the summary rows of one variant of a search_query run: load phases,
    the paired blocks' serial search (latency percentiles, recall) and the concurrency sweep (medians over
    sweep blocks)."""
    first = cell.iloc[0]
    load = {op: float(results.rows(cell, op=op, phase=Phase.LOAD)["duration_s"].sum())
            for op in (Op.INSERT, Op.FLUSH, Op.INDEX, Op.LOAD)}
    serial = results.rows(cell, op=Op.SEARCH, phase=Phase.SERIAL, sweep=Sweep.BLOCKS).median(numeric_only=True).to_frame().T
    conc = results.rows(cell, op=Op.SEARCH, phase=Phase.CONCURRENT, sweep=Sweep.CONCURRENCY).groupby("concurrency").median(
        numeric_only=True).reset_index().sort_values("concurrency")
    index_params = json.loads(first["index_params"]) if isinstance(first.get("index_params"), str) else {}
    search_params = json.loads(first["search_params"]) if isinstance(first.get("search_params"), str) else {}
    metrics = {
        "max_load_count": 0, "insert_duration": round(load[Op.INSERT], 4),
        "optimize_duration": round(load[Op.FLUSH] + load[Op.INDEX] + load[Op.LOAD], 4),
        "load_duration": round(sum(load.values()), 4),
        "qps": round(float(conc["rps"].max()), 4) if len(conc) else 0.0,
        "serial_latency_p99": _first(serial, "latency_p99_ms") / 1e3,
        "serial_latency_p95": _first(serial, "latency_p95_ms") / 1e3,
        "recall": _first(serial, "recall_at_k"), "ndcg": _first(serial, "ndcg_at_k"),
        "conc_num_list": [int(c) for c in conc["concurrency"]],
        "conc_qps_list": [float(v) for v in conc["rps"]],
        "conc_latency_p99_list": [float(v) / 1e3 for v in conc["latency_p99_ms"]],
        "conc_latency_p95_list": [float(v) / 1e3 for v in conc["latency_p95_ms"]],
        "conc_latency_avg_list": [float(v) / 1e3 for v in conc["latency_avg_ms"]],
        "st_ideal_insert_duration": 0, **{name: [] for name in [
            "st_search_stage_list", "st_search_time_list", "st_max_qps_list_list", "st_recall_list",
            "st_ndcg_list", "st_serial_latency_p99_list", "st_serial_latency_p95_list",
            "st_conc_failed_rate_list", "st_conc_num_list_list", "st_conc_qps_list_list",
            "st_conc_latency_p99_list_list", "st_conc_latency_p95_list_list", "st_conc_latency_avg_list_list"]},
    }
    label = f"mqbench-{first['variant']}-r{first['repeat']}"
    task = {
        "db": "Milvus",
        "db_config": {"db_label": label, "version": manifest.get("versions", {}).get("milvus", ""),
                      "note": f"mqbench run {first['run_id']}, git {manifest.get('git_sha', '')}, variant {first['variant']}",
                      "uri": "**********", "user": "root", "password": "**********", "num_shards": 1,
                      "replica_number": 1},
        "db_case_config": {"index": first.get("index_type", "HNSW"), "metric_type": first.get("data_metric", "COSINE"),
                           "use_partition_key": False, **index_params, **search_params},
        "case_config": {"case_id": CUSTOM_DATASET_CASE, "custom_case": {
            "name": f"mqbench {first['data_name']}", "description": f"mqbench search_query, {first['variant']}",
            "load_timeout": 36000, "optimize_timeout": 36000,
            "dataset_config": {"name": str(first["data_name"]), "dir": "", "size": str(int(first["data_n"])),
                               "dim": str(int(first["data_dim"])), "metric_type": str(first.get("data_metric", "COSINE")),
                               "file_count": "1", "use_shuffled": False, "with_gt": True}},
            "k": int(first["k"]), "concurrency_search_config": {
                "num_concurrency": [int(c) for c in conc["concurrency"]],
                "concurrency_duration": int(round(float(first.get("sweep_window_s", 0)))),
                "concurrency_timeout": 3600}},
        "stages": ["drop_old", "load", "search_serial", "search_concurrent"],
    }
    return {"metrics": metrics, "task_config": task, "label": ":)"}


def export_vectordbbench(run_dir: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write ``<out_dir>/Milvus/result_<date>_<run id>_milvus.json`` (VectorDBBench's layout; default
    ``out_dir``: ``<run_dir>/vectordbbench``) with one case per search_query cell; returns the file."""
    run_dir = results.open_run_dir(run_dir)
    summary = results.load_summary(run_dir)
    summary = results.rows(summary, notebook=Notebook.SEARCH_QUERY)
    if summary.empty:
        raise ValueError(f"{run_dir} has no successful search_query rows to export")
    manifest = results.read_manifest(run_dir)
    cases = [_case(cell, manifest) for _, cell in summary.groupby(["variant", "repeat"], sort=True)]
    run_id = run_dir.name.replace("-", "").replace(".", "").lower()
    created = datetime.fromisoformat(manifest["created_utc"].replace("Z", "+00:00")).astimezone(timezone.utc)
    day = created.replace(hour=0, minute=0, second=0, microsecond=0)
    out = Path(out_dir or run_dir / "vectordbbench") / "Milvus" / f"result_{created:%Y%m%d}_{run_id}_milvus.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    results.atomic_write_text(out, json.dumps({"run_id": run_id, "task_label": f"mqbench {run_dir.name}",
                                               "results": cases, "file_fmt": "result_{}_{}_{}.json",
                                               "timestamp": day.timestamp()}, indent=1))
    return out
