"""Seaborn figures drawn from ``summary.parquet`` rows (never from notebook state)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from .metrics import METRICS


def _axis_label(column: str) -> str:
    m = METRICS[column]
    return f"{m.label} ({m.unit}, {m.better} is better)" if m.unit else f"{m.label} ({m.better} is better)"


def vs_concurrency(summary: pd.DataFrame, column: str, ops=("search", "query")) -> plt.Figure:
    """One panel per op: ``column`` against client concurrency, a line per MQ, spread over repeats."""
    df = summary[(summary["phase"] == "concurrent") & summary["op"].isin(ops) & (summary["status"] == "ok")]
    grid = sns.relplot(data=df, x="concurrency", y=column, hue="mq", style="mq", col="op", kind="line",
                       markers=True, errorbar=("pi", 100), height=3.2, aspect=1.25,
                       facet_kws={"sharey": False})
    grid.set_axis_labels("client processes", _axis_label(column))
    for ax in grid.axes.flat:
        ax.set_xscale("log", base=2)
        ax.set_ylim(bottom=0)
    grid.figure.suptitle(f"{METRICS[column].label} vs concurrency (band: min–max over repeats)", y=1.04)
    return grid.figure


def _log_catplot(data: pd.DataFrame, xlabel: str, ylabel: str, title: str, **kwargs) -> plt.Figure:
    """A seaborn catplot with a log y axis, labelled axes and a title."""
    grid = sns.catplot(data=data, **kwargs)
    grid.set_axis_labels(xlabel, ylabel)
    for ax in grid.axes.flat:
        ax.set_yscale("log")
    grid.figure.suptitle(title, y=1.04)
    return grid.figure


def pubsub_seconds(ops: pd.DataFrame) -> plt.Figure | None:
    """Seconds per op for each shape, a bar per MQ · broker · variant, one panel per level (bars: median,
    whiskers: min–max over ops and repeats)."""
    ops = ops[ops["error"].fillna("") == ""] if "error" in ops else ops
    if ops.empty:
        return None
    return _log_catplot(ops, "shape (message size * messages per op)", "seconds per op (lower is better)",
                        "pub/sub seconds per op (median, min–max)", x="shape", y="seconds", hue="series",
                        col="level", kind="bar", estimator="median", errorbar=("pi", 100), height=3.6,
                        aspect=1.3, sharey=False)


def freshness_lags(lags: pd.DataFrame) -> plt.Figure | None:
    """Insert→visible lag per consistency level, a box per MQ, one panel per batch size (log scale)."""
    lags = lags[lags["visible"]] if len(lags) else lags
    if lags.empty:
        return None
    return _log_catplot(lags, "consistency level", "insert → visible (ms, lower is better)",
                        "insert → visible lag per batch (rows per insert in the panel title)", x="consistency",
                        y="lag_ms", hue="mq", col="batch_rows", kind="box", height=3.4, aspect=1.1, sharey=True)


def storage_growth(growth: pd.DataFrame) -> plt.Figure | None:
    """MQ bytes on disk against rows inserted, a line per MQ (and repeat)."""
    if growth.empty:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.6))
    sns.lineplot(data=growth.assign(mq_storage_mb=growth["mq_storage_bytes"] / 1e6), x="rows_inserted",
                 y="mq_storage_mb", hue="mq", units="repeat", estimator=None, ax=ax)
    ax.set(xlabel="rows inserted", ylabel="MQ store on disk (MB, lower is better)",
           title="sustained ingest: MQ bytes on disk")
    return fig
