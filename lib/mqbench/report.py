"""The published report: tables built from ``summary.parquet`` and one self-contained HTML page.

``build(run_dir)`` executes ``notebooks/report.ipynb`` on the recorded results (it never
re-runs a benchmark) and exports it without code cells, plots embedded.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import papermill as pm
from nbconvert import HTMLExporter

from . import results
from .seed import TABLE2, seed_table

REPORT_NOTEBOOK = results.PROJECT_ROOT / "notebooks" / "report.ipynb"
LOAD_OPS = ["server_start", "insert", "flush", "index", "load"]


BASE_COLUMNS = ["notebook", "mq", "repeat", "op", "phase", "concurrency", "status", "error"]


def load_summary(run_dir: str | Path) -> pd.DataFrame:
    """``summary.parquet`` with the base columns present even when nothing was measured."""
    summary = pd.read_parquet(Path(run_dir) / results.SUMMARY)
    for column in BASE_COLUMNS:
        if column not in summary:
            summary[column] = pd.Series(dtype=object)
    return summary


def ok_rows(summary: pd.DataFrame) -> pd.DataFrame:
    return summary[summary["status"] == "ok"]


def _spread(values: pd.Series) -> dict:
    return {"median": values.median(), "min": values.min(), "max": values.max(), "repeats": values.size}


def ratio_interval(num: np.ndarray, den: np.ndarray, draws: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% bootstrap interval of median(num) / median(den), resampling each side's repeats."""
    rng = np.random.default_rng(seed)
    a = rng.choice(num, size=(draws, len(num)), replace=True)
    b = rng.choice(den, size=(draws, len(den)), replace=True)
    ratios = np.median(a, axis=1) / np.median(b, axis=1)
    return tuple(float(v) for v in np.percentile(ratios, [2.5, 97.5]))


def mq_verdict(nats: np.ndarray, rocks: np.ndarray) -> tuple[float, float, float, str]:
    """NATS ÷ RocksMQ ratio of medians, its 95% bootstrap interval, and whether it exceeds the noise."""
    low, high = ratio_interval(nats, rocks)
    verdict = "within noise" if low <= 1 <= high else ("NATS higher" if low > 1 else "NATS lower")
    return float(np.median(nats) / np.median(rocks)), low, high, verdict


def in_sweep(df: pd.DataFrame, *names: str) -> pd.DataFrame:
    """Rows of the named sweeps of ``search_query.ipynb``. A run without a ``sweep`` column predates the
    sweeps: its search_query rows are the baseline and concurrency ones."""
    if "sweep" in df:
        return df[df["sweep"].isin(names)]
    legacy = {"baseline", "concurrency"} & set(names)
    return df[df["notebook"] == "search_query"] if legacy else df.iloc[0:0]


def with_verdicts(table: pd.DataFrame, per_repeat: pd.DataFrame, keys: list[str], column: str) -> pd.DataFrame:
    """``table`` (one row per ``keys`` + mq) with the NATS÷RocksMQ verdict of ``column`` per ``keys`` group,
    from ``per_repeat`` values."""
    rows = []
    for group, part in per_repeat.groupby(keys):
        nats = part.loc[part["mq"] == "natsmq", column].dropna().to_numpy(float)
        rocks = part.loc[part["mq"] == "rocksmq", column].dropna().to_numpy(float)
        if len(nats) and len(rocks):
            ratio, low, high, verdict = mq_verdict(nats, rocks)
            group = group if isinstance(group, tuple) else (group,)
            rows.append({**dict(zip(keys, group)), "nats_over_rocks": ratio, "ratio_ci_low": low,
                         "ratio_ci_high": high, "verdict": verdict})
    return table.merge(pd.DataFrame(rows), on=keys, how="left") if rows else table


def table2(summary: pd.DataFrame) -> pd.DataFrame:
    """The seed's Table 2 shape, ours beside theirs: one row per (metric, mq).

    Latencies are the serial phase's mean; RPS is the peak over the concurrency sweep (per repeat,
    then spread over repeats). ``verdict``: whether NATS ÷ RocksMQ differs from 1 by more than the
    run-to-run noise, by a 95% bootstrap interval of the ratio of medians over repeats.
    """
    df = in_sweep(ok_rows(summary), "baseline", "concurrency")
    seed = seed_table("integration").set_index(["metric", "mq"])["value"]
    out, values = [], {}
    for metric, (op, phase, column) in TABLE2.items():
        part = df[(df["op"] == op) & (df["phase"] == phase)]
        for mq, rows in part.groupby("mq"):
            per_repeat = (rows.groupby("repeat")[column].max() if phase == "concurrent" else rows[column]).dropna()
            values[metric, mq] = per_repeat.to_numpy(dtype=float)
            spread = _spread(per_repeat)
            out.append({"metric": metric, "mq": mq, "ours_median": spread["median"], "ours_min": spread["min"],
                        "ours_max": spread["max"], "repeats": spread["repeats"],
                        "seed_100M": seed.get((metric, mq)), "unit": "ms" if "latency" in metric else "1/s"})
    table = pd.DataFrame(out)
    if table.empty:
        return table
    seed_ratio = seed.unstack("mq")
    verdicts = {}
    for metric in table["metric"].unique():
        nats, rocks = values.get((metric, "natsmq")), values.get((metric, "rocksmq"))
        if nats is None or rocks is None or not len(nats) or not len(rocks):
            continue
        verdicts[metric] = mq_verdict(nats, rocks)
    if verdicts:
        for i, name in enumerate(["ours_nats_over_rocks", "ratio_ci_low", "ratio_ci_high", "verdict"]):
            table[name] = table["metric"].map({m: v[i] for m, v in verdicts.items()})
        table["seed_nats_over_rocks"] = table["metric"].map(seed_ratio["natsmq"] / seed_ratio["rocksmq"])
    return table


def load_phases(summary: pd.DataFrame) -> pd.DataFrame:
    """Median duration and resources of each load phase per MQ."""
    df = ok_rows(summary)
    df = df[df["op"].isin(LOAD_OPS)]
    columns = [c for c in ["duration_s", "rows_per_s", "server_cpu_s", "server_rss_peak_mb", "mq_storage_bytes"]
               if c in df]
    table = df.groupby(["op", "mq"])[columns].median().reset_index()
    table["op"] = pd.Categorical(table["op"], LOAD_OPS, ordered=True)
    return table.sort_values(["op", "mq"]).reset_index(drop=True)


def sweep(summary: pd.DataFrame) -> pd.DataFrame:
    """Latency and RPS per (op, mq, concurrency), median over repeats, with client CPU share."""
    df = in_sweep(ok_rows(summary), "baseline", "concurrency")
    df = df[df["phase"].isin(["serial", "concurrent"])]
    columns = ["rps", "latency_avg_ms", "latency_p50_ms", "latency_p99_ms", "errors", "client_cpu_share",
               "server_cpu_s", "recall_at_k"]
    columns = [c for c in columns if c in df]
    return df.groupby(["op", "phase", "concurrency", "mq"])[columns].median().reset_index()


def latency_vs_rps(summary: pd.DataFrame) -> pd.DataFrame:
    """Every closed-loop level and open-loop rate of search, per repeat: achieved RPS against latency."""
    df = ok_rows(summary)
    closed = in_sweep(df, "concurrency")
    closed = closed[(closed["op"] == "search") & (closed["phase"] == "concurrent")].assign(mode="closed loop")
    opened = df[(df["op"] == "search") & (df["phase"] == "open_loop")].assign(mode="open loop")
    columns = ["mode", "mq", "repeat", "concurrency", "target_rps", "rps", "latency_p50_ms", "latency_p99_ms",
               "latency_p999_ms", "errors", "not_sent", "client_cpu_share"]
    out = pd.concat([closed, opened], ignore_index=True)
    return out[[c for c in columns if c in out]].sort_values(
        [c for c in ["mode", "mq", "repeat", "concurrency", "target_rps"] if c in out]).reset_index(drop=True)


def knee(summary: pd.DataFrame, keep_up: float = 0.95) -> pd.DataFrame:
    """Per MQ and repeat, the highest open-loop target rate the server kept up with (achieved ≥
    ``keep_up`` × target, nothing left unsent), and the p99 latency there. ``highest_rate_tried``: the
    server kept up with every rate, so the knee lies above it (try higher ``open_loop_rates``)."""
    df = latency_vs_rps(summary)
    df = df[df["mode"] == "open loop"]
    if df.empty:
        return df
    kept = df[(df["rps"] >= keep_up * df["target_rps"]) & (df["not_sent"].fillna(0) == 0)]
    best = kept.loc[kept.groupby(["mq", "repeat"])["target_rps"].idxmax()] if len(kept) else kept
    tried = df.groupby(["mq", "repeat"])["target_rps"].max()
    best = best.assign(highest_rate_tried=[rate == tried[mq, r] for mq, r, rate in
                                           zip(best["mq"], best["repeat"], best["target_rps"])])
    return best[["mq", "repeat", "target_rps", "rps", "latency_p99_ms", "highest_rate_tried"]].rename(
        columns={"target_rps": "knee_target_rps", "rps": "achieved_rps"}).reset_index(drop=True)


def recall_qps(summary: pd.DataFrame) -> pd.DataFrame:
    """Recall (serial) and RPS (closed loop) per search-parameter value, per MQ and repeat."""
    df = in_sweep(ok_rows(summary), "search_params")
    if df.empty or "variant" not in df:
        return pd.DataFrame()
    keys = ["mq", "repeat", "variant", "knob"]
    serial = df[df["phase"] == "serial"][keys + ["recall_at_k", "latency_avg_ms"]]
    conc = df[df["phase"] == "concurrent"][keys + ["rps", "latency_p99_ms", "concurrency"]]
    return serial.merge(conc, on=keys, how="inner").sort_values(["mq", "knob", "repeat"]).reset_index(drop=True)


def consistency(summary: pd.DataFrame) -> pd.DataFrame:
    """Serial latency per consistency level, op and MQ (median over repeats), with the NATS÷RocksMQ verdict
    on p50 latency: the MQ is on the path of Strong reads."""
    df = in_sweep(ok_rows(summary), "consistency")
    if df.empty or "consistency_level" not in df:
        return pd.DataFrame()
    keys = ["op", "consistency_level"]
    table = df.groupby(keys + ["mq"])[["latency_p50_ms", "latency_p99_ms", "latency_avg_ms"]].median().reset_index()
    return with_verdicts(table, df, keys, "latency_p50_ms")


def shapes(summary: pd.DataFrame) -> pd.DataFrame:
    """Request shapes and query kinds: serial p50 latency and closed-loop RPS per variant and MQ (medians
    over repeats), with the NATS÷RocksMQ verdict on RPS."""
    df = in_sweep(ok_rows(summary), "shape", "query_kind")
    if df.empty or "variant" not in df:
        return pd.DataFrame()
    keys = ["sweep", "op", "variant"]
    serial = df[df["phase"] == "serial"].groupby(keys + ["mq"])[["latency_p50_ms", "latency_p99_ms"]].median()
    conc = df[df["phase"] == "concurrent"]
    table = serial.join(conc.groupby(keys + ["mq"])[["rps"]].median(), how="outer").reset_index()
    return with_verdicts(table, conc, keys, "rps")


def table1(summary: pd.DataFrame) -> pd.DataFrame:
    """The seed's Table 1 shape: s/op, memory, CPU and storage per (shape, level, broker, variant),
    seed numbers beside (broker level). CPU and storage are per op: the seed's totals were over 50 ops.
    ``bound_by`` says whose CPU was the limit: the client (one Python process, at most one core) when it
    used >= 80% of a core over the phase, else the side that used more CPU."""
    df = ok_rows(summary)
    df = df[df["op"] == "pubsub"].copy()
    if df.empty:
        return df
    in_process = df["broker"].str.startswith("rocksdb")
    df["cpu_s_per_op"] = (df["server_cpu_s"] + df["client_cpu_s"].where(~in_process, 0)) / df["ops"]
    df["storage_gb_per_op"] = df["mq_storage_bytes"] / 1e9 / df["ops"]
    df["memory_gb"] = df["server_rss_peak_mb"] / 1024
    client_util = df["client_cpu_s"] / df["duration_s"]
    df["bound_by"] = "broker"
    df.loc[(client_util >= 0.8) | (df["client_cpu_s"] >= df["server_cpu_s"]), "bound_by"] = "client"
    df.loc[in_process, "bound_by"] = "one process"
    keys = ["shape", "phase", "mq", "broker", "variant"]
    table = df.groupby(keys, sort=False).agg(
        repeats=("repeat", "nunique"), ops=("ops", "sum"), failed_ops=("failed_ops", "sum"),
        s_per_op=("s_per_op", "median"), s_per_op_min=("s_per_op_min", "min"), s_per_op_max=("s_per_op_max", "max"),
        mb_per_s=("mb_per_s", "median"), memory_gb=("memory_gb", "median"), cpu_s_per_op=("cpu_s_per_op", "median"),
        storage_gb_per_op=("storage_gb_per_op", "median"), bound_by=("bound_by", "first")).reset_index()
    seed = seed_table("pubsub").pivot_table(index=["test", "mq"], columns="metric", values="value")
    broker = table["phase"] == "broker"
    for column, metric, scale in [("seed_s_per_op", "s_per_op", 1), ("seed_memory_gb", "memory", 1),
                                  ("seed_cpu_s_per_op", "cpu_total", 1 / 50), ("seed_storage_gb_per_op", "storage", 1 / 50)]:
        table[column] = [seed[metric].get((shape, mq), float("nan")) * scale if is_broker else float("nan")
                         for shape, mq, is_broker in zip(table["shape"], table["mq"], broker)]
    return table.rename(columns={"phase": "level"})


def pubsub_ops(run_dir: str | Path, summary: pd.DataFrame) -> pd.DataFrame:
    """Per-op seconds of every pub/sub row (from ``raw/``), labelled for plotting."""
    df = ok_rows(summary)
    df = df[df["op"] == "pubsub"]
    frames = [pd.read_parquet(Path(run_dir) / row.raw_file).assign(
        shape=row.shape, level=row.phase, series=f"{row.mq} · {row.broker} · {row.variant}")
        for row in df.itertuples()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["shape", "level", "series",
                                                                                      "seconds"])


def freshness(summary: pd.DataFrame) -> pd.DataFrame:
    """Insert→visible lag percentiles per (mq, consistency level, batch size), median over repeats."""
    df = ok_rows(summary)
    df = df[df["op"] == "insert_visible"]
    if df.empty:
        return df
    columns = ["lag_p50_ms", "lag_p95_ms", "lag_p99_ms", "lag_max_ms", "ack_p50_ms", "errors"]
    return df.groupby(["consistency_level", "batch_rows", "mq"])[columns].median().reset_index()


def _raw_of(run_dir: str | Path, summary: pd.DataFrame, op: str) -> pd.DataFrame:
    """The raw rows behind every successful ``op`` row, concatenated."""
    df = ok_rows(summary)
    df = df[df["op"] == op]
    frames = [pd.read_parquet(Path(run_dir) / f) for f in df["raw_file"]] if len(df) else []
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def freshness_raw(run_dir: str | Path, summary: pd.DataFrame) -> pd.DataFrame:
    return _raw_of(run_dir, summary, "insert_visible")


def mixed(summary: pd.DataFrame) -> pd.DataFrame:
    """Search while inserting: RPS and latency with and without the background writer."""
    df = ok_rows(summary)
    df = df[(df["op"] == "search") & (df["phase"] == "mixed")]
    columns = ["rps", "latency_p50_ms", "latency_p99_ms", "errors", "writer_achieved_rows_per_s",
               "writer_late_batches", "client_cpu_share"]
    if df.empty:
        return df
    return df.groupby(["consistency_level", "writer_target_rows_per_s", "mq"])[
        [c for c in columns if c in df]].median().reset_index()


def growth_raw(run_dir: str | Path, summary: pd.DataFrame) -> pd.DataFrame:
    return _raw_of(run_dir, summary, "ingest_growth")


def migration(run_dir: str | Path, summary: pd.DataFrame) -> pd.DataFrame:
    """Each migration check, ✓ or ✗, with its numbers, for the flushed and the unflushed case."""
    df = summary[(summary["op"] == "migration") & (summary["phase"] == "verify") & summary["raw_file"].notna()] \
        if "raw_file" in summary else summary.iloc[0:0]
    frames = [pd.read_parquet(Path(run_dir) / row.raw_file).assign(migration=row.mq, repeat=row.repeat)
              for row in df.itertuples()]
    if not frames:
        return pd.DataFrame()
    checks = pd.concat(frames, ignore_index=True)
    checks["result"] = checks["passed"].map({"True": "✓", "False": "✗"})
    return checks[["migration", "flush", "repeat", "check", "result", "before", "after"]]


def recovery(summary: pd.DataFrame) -> pd.DataFrame:
    """Restart after SIGKILL: time to serve again, time until every acknowledged row is visible, rows lost."""
    df = ok_rows(summary)
    df = df[df["op"] == "recovery"]
    columns = ["mq", "repeat", "rows_acked", "restart_s", "serving_s", "all_visible_s", "rows_visible", "rows_lost"]
    return df[[c for c in columns if c in df]].reset_index(drop=True)


def styled(table: pd.DataFrame):
    """A table for the HTML page: no index, bytes as MB, three significant decimals."""
    table = table.copy()
    if "mq_storage_bytes" in table:
        table.insert(table.columns.get_loc("mq_storage_bytes"), "mq_storage_mb", table.pop("mq_storage_bytes") / 1e6)
    return table.style.hide(axis="index").format(precision=3, na_rep="—")


def build(run_dir: str | Path, progress: bool = False) -> Path:
    """Execute the report notebook on ``run_dir``'s results; write ``report.html`` beside them."""
    run_dir = results.open_run_dir(run_dir).resolve()
    if not (run_dir / results.SUMMARY).exists():
        results.consolidate(run_dir)
    executed = run_dir / "executed" / "report.ipynb"
    pm.execute_notebook(str(REPORT_NOTEBOOK), str(executed), parameters={"run_dir": str(run_dir)},
                        cwd=str(REPORT_NOTEBOOK.parent), progress_bar=progress)
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
    html = run_dir / "report.html"
    results.atomic_write_text(html, body)
    return html
