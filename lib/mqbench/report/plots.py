"""Seaborn figures drawn from ``summary.parquet`` rows (never from notebook state). Every figure draws a variant
the same way — its colour (:func:`palette`), line style (:func:`dashes`) and marker (:func:`markers`) fixed per MQ
— and is finished by :func:`tidy`: plain numbers on log axes, tick labels that would overlap turned, panels laid out
so no label runs into its neighbour."""
from __future__ import annotations

import functools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

from mqbench.core import mqs, results, schema
from mqbench.core.schema import Op, Phase, Sweep


def palette(labels) -> dict[str, tuple]:
    """label -> colour, fixed per MQ (``rocksmq`` blue, ``natsmq`` orange, …, from the label's first word: a
    variant ``rocksmq-2`` or a series ``natsmq · nats-server · strict``), darker for a second label of one MQ (A/A)."""
    base = sns.color_palette("tab10")
    dark = sns.color_palette("dark", 10)
    out, seen = {}, {}
    for label in sorted(set(map(str, labels)), key=lambda x: (mqs.word(x), x)):
        mq = mqs.word(label)
        i = _mq_index(label)
        n = seen.get(mq, 0)
        seen[mq] = n + 1
        out[label] = base[i] if n == 0 else dark[i] if n == 1 else sns.color_palette("pastel", 10)[i]
    return out


def _mq_index(label: str) -> int:
    """The colour index of a label: its MQ's registry position; another name a fixed one after every MQ."""
    return mqs.order(label) if mqs.of(label) else len(mqs.SPECS) + sum(map(ord, mqs.word(label))) % 4


def _spec(label) -> mqs.Spec:
    """The registry entry drawing a label: its MQ's, or a fixed one of them for another name."""
    specs = list(mqs.SPECS.values())
    return specs[_mq_index(label) % len(specs)]


def dashes(labels) -> dict[str, object]:
    """label -> seaborn dash pattern, fixed per MQ by the registry (the same in every figure)."""
    return {str(label): _spec(label).dashes for label in set(labels)}


def markers(labels) -> dict[str, str]:
    """label -> marker, fixed per MQ by the registry."""
    return {str(label): _spec(label).marker for label in set(labels)}


def _plain(value: float, _=None) -> str:
    return f"{value:g}"


def _overlapping(labels, renderer) -> bool:
    boxes = [t.get_window_extent(renderer) for t in labels if t.get_visible() and t.get_text()]
    return any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def tidy(fig: plt.Figure | None) -> plt.Figure | None:
    """Finish a figure: a log axis labelled with plain numbers (no "2.8×10⁰"), x tick labels that would overlap
    turned 30°, and the panels laid out so that no panel's labels run into its neighbour."""
    if fig is None:
        return None
    for ax in fig.axes:
        for axis, scale, (low, high) in ((ax.xaxis, ax.get_xscale(), ax.get_xlim()),
                                         (ax.yaxis, ax.get_yscale(), ax.get_ylim())):
            if scale == "log":
                narrow = low > 0 and high / low < 20  # under ~1.3 decades, the minor ticks carry the labels
                axis.set_major_formatter(FuncFormatter(_plain))
                axis.set_minor_formatter(FuncFormatter(_plain) if narrow else NullFormatter())
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        if _overlapping(ax.get_xticklabels(), renderer):
            plt.setp(ax.get_xticklabels(), rotation=30, ha="right", rotation_mode="anchor")
    fig.tight_layout()
    return fig


def _tidied(draw):
    """Every figure function's result passes :func:`tidy`."""
    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        return tidy(draw(*args, **kwargs))
    return wrapper


def _axis_label(column: str) -> str:
    m = schema.COLUMNS[column]
    return f"{m.title} ({m.unit}, {m.better} is better)" if m.unit else f"{m.title} ({m.better} is better)"


@_tidied
def vs_concurrency(summary: pd.DataFrame, column: str, ops=(Op.SEARCH, Op.QUERY)) -> plt.Figure | None:
    """One panel per op: ``column`` against client concurrency, a line per MQ, spread over repeats."""
    df = results.rows(summary, sweep=Sweep.CONCURRENCY, phase=Phase.CONCURRENT, op=list(ops))
    df = df.dropna(subset=[column]) if column in df else df.iloc[0:0]
    if df.empty:
        return _unsupported(column)
    grid = sns.relplot(data=df, x="concurrency", y=column, hue="variant", style="variant", col="op", kind="line",
                       dashes=dashes(df["variant"]), markers=markers(df["variant"]), errorbar=("pi", 100), height=3.2, aspect=1.25, palette=palette(df["variant"]),
                       facet_kws={"sharey": False})
    grid.set_axis_labels("client processes", _axis_label(column))
    levels = sorted(df["concurrency"].unique())
    for ax in grid.axes.flat:
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_locator(FixedLocator(levels))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([f"{int(c)}" for c in levels])
        ax.set_ylim(bottom=0)
    blocks = df.groupby(["variant", "op", "concurrency"]).size().max()
    band = " (band: min–max over sweep blocks)" if blocks > 1 else ""
    grid.figure.suptitle(f"{schema.label(column)} vs concurrency{band}", y=1.04)
    return grid.figure


def _unsupported(column: str) -> plt.Figure | None:
    """A panel saying why a percentile is not drawn (too few samples per point), instead of an empty one."""
    from mqbench.stats.metrics import PERCENTILES
    from mqbench.stats.verdicts import min_samples

    if column not in PERCENTILES:
        return None
    fig, ax = plt.subplots(figsize=(6, 1.2))
    ax.axis("off")
    ax.text(0.5, 0.5, f"{schema.label(column)}: not shown — each point has fewer than "
            f"{min_samples(PERCENTILES[column]):,} requests, the least this percentile needs", ha="center",
            va="center", fontsize=10)
    return fig


def _log_catplot(data: pd.DataFrame, xlabel: str, ylabel: str, title: str, **kwargs) -> plt.Figure:
    """A seaborn catplot with a log y axis, labelled axes and a title."""
    grid = sns.catplot(data=data, palette=palette(data[kwargs["hue"]]), **kwargs)
    grid.set_axis_labels(xlabel, ylabel)
    for ax in grid.axes.flat:
        ax.set_yscale("log")
    grid.figure.suptitle(title, y=1.04)
    return grid.figure


@_tidied
def pubsub_seconds(ops: pd.DataFrame) -> plt.Figure | None:
    """Seconds per op for each shape, a point per MQ · broker · variant, one panel per level (point: median,
    whiskers: min–max over ops and repeats; log scale, so points, not bars)."""
    ops = ops[ops["error"].fillna("") == ""] if "error" in ops else ops
    if ops.empty:
        return None
    return _log_catplot(ops, "shape (message size * messages per op)", "seconds per op (lower is better)",
                        "pub/sub seconds per op (median, min–max)", x="shape", y="seconds", hue="series",
                        col="level", kind="point", estimator="median", errorbar=("pi", 100), height=3.6,
                        aspect=1.3, sharey=False, linestyle="none", dodge=0.4)


@_tidied
def freshness_lags(lags: pd.DataFrame) -> plt.Figure | None:
    """Insert→visible lag per consistency level, a box per MQ, one panel per batch size (log scale)."""
    lags = lags[lags["visible"]] if len(lags) else lags
    if lags.empty:
        return None
    return _log_catplot(lags, "consistency level", "insert → visible (ms, lower is better)",
                        "insert → visible lag per batch (rows per insert in the panel title)", x="consistency",
                        y="lag_ms", hue="variant", col="batch_rows", kind="box", height=3.4, aspect=1.1, sharey=True)


@_tidied
def storage_growth(growth: pd.DataFrame) -> plt.Figure | None:
    """MQ bytes on disk against rows inserted, a line per MQ (and repeat)."""
    if growth.empty:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.6))
    sns.lineplot(data=growth.assign(mq_storage_mib=growth["mq_storage_bytes"] / 2**20), x="rows_inserted",
                 y="mq_storage_mib", hue="variant", style="variant", dashes=dashes(growth["variant"]),
                 units="repeat", estimator=None, ax=ax, palette=palette(growth["variant"]))
    ax.set(xlabel="rows inserted", ylabel="MQ store on disk (MiB, lower is better)",
           title="sustained ingest: MQ bytes on disk")
    return fig


@_tidied
def tick_ecdf(samples: pd.DataFrame) -> plt.Figure | None:
    """Latency ECDF per variant, one panel per kind, one thin line per server start."""
    if samples.empty:
        return None
    kinds = sorted(samples["kind"].unique())
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.4 * len(kinds), 3.4), squeeze=False, sharey=True)
    colours = palette(samples["variant"])
    for ax, kind in zip(axes.flat, kinds):
        for (variant, _), one in samples[samples["kind"] == kind].groupby(["variant", "start"]):
            sns.ecdfplot(x=one["ms"], ax=ax, color=colours[variant], linewidth=0.8, alpha=0.6)
        ax.set(title=kind, xlabel="ms (lower is better)", ylabel="share of requests")
    axes.flat[0].legend(handles=[plt.Line2D([], [], color=c, label=v) for v, c in colours.items()], title="variant",
                        fontsize=8)
    fig.suptitle("a line per server start", y=1.03)
    return fig


@_tidied
def tick_strip(rows: pd.DataFrame) -> plt.Figure | None:
    """Each server start's mean latency, per variant, one panel per kind (the jitter seeded: a rebuilt page is
    the same page)."""
    if rows.empty:
        return None
    state = np.random.get_state()  # seaborn jitters with numpy's global generator
    np.random.seed(0)
    try:
        grid = sns.catplot(data=rows, x="variant", y="mean_ms", col="kind", kind="strip", hue="variant", height=3.2,
                           palette=palette(rows["variant"]), aspect=0.9, sharey=False, jitter=0.15, legend=False)
    finally:
        np.random.set_state(state)
    grid.set_axis_labels("variant", "per-start mean (ms, lower is better)")
    return grid.figure


@_tidied
def latency_vs_rps(points: pd.DataFrame) -> plt.Figure | None:
    """Search latency against achieved RPS, one panel per mode (closed loop: a point per concurrency level;
    open loop: a point per target rate, latency from the scheduled send), a line per variant and block; the
    highest percentile the samples support (p99, else p95, else p50)."""
    column = next((c for c in ("latency_p99_ms", "latency_p95_ms", "latency_p50_ms")
                   if c in points and points[c].notna().any()), "latency_p50_ms")
    points = points.dropna(subset=[column]) if column in points else points.iloc[0:0]
    if points.empty:
        return None
    grid = sns.relplot(data=points.assign(block=points.get("block", 0)), x="rps", y=column, hue="variant",
                       style="variant", units="block", estimator=None, palette=palette(points["variant"]),
                       dashes=dashes(points["variant"]), markers=markers(points["variant"]),
                       col="mode", kind="line", sort=False, height=3.4, aspect=1.2,
                       facet_kws={"sharex": False, "sharey": False})
    grid.set_axis_labels(_axis_label("rps"), _axis_label(column))
    for ax in grid.axes.flat:
        ax.set_yscale("log")
    grid.figure.suptitle("search latency vs throughput (a line per repeat; the knee is where latency turns up)",
                         y=1.04)
    return grid.figure


@_tidied
def recall_vs_qps(points: pd.DataFrame) -> plt.Figure | None:
    """Closed-loop RPS against recall@k, a point per search-parameter value, a line per MQ and repeat."""
    if points.empty:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.8))
    sns.lineplot(data=points, x="recall_at_k", y="rps", hue="variant", style="variant", units="block", estimator=None,
                 dashes=dashes(points["variant"]), markers=markers(points["variant"]), sort=False, ax=ax,
                 palette=palette(points["variant"]))
    for row in points.drop_duplicates(["variant", "point"]).itertuples():
        ax.annotate(row.point, (row.recall_at_k, row.rps), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set(xlabel=_axis_label("recall_at_k"), ylabel=_axis_label("rps"),
           title=f"recall vs QPS ({int(points['concurrency'].iloc[0])} client processes)")
    return fig


@_tidied
def recall_vs_latency(points: pd.DataFrame) -> plt.Figure | None:
    """Serial mean latency against recall@k, a point per search setting on the build, the operating point ringed."""
    if points.empty:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.8))
    sns.lineplot(data=points, x="recall_at_k", y="latency_avg_ms", hue="variant", style="variant", sort=False, ax=ax,
                 dashes=dashes(points["variant"]), markers=markers(points["variant"]), palette=palette(points["variant"]))
    for row in points.itertuples():
        ax.annotate(row.point, (row.recall_at_k, row.latency_avg_ms), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")
    chosen = points[points["operating_point"]]
    ax.scatter(chosen["recall_at_k"], chosen["latency_avg_ms"], s=160, facecolors="none", edgecolors="black",
               label="operating point")
    ax.set(xlabel=_axis_label("recall_at_k"), ylabel=_axis_label("latency_avg_ms"),
           title="recall vs serial latency on the build")
    ax.legend(fontsize=8)
    return fig


@_tidied
def consistency_latency(table: pd.DataFrame) -> plt.Figure | None:
    """Serial mean latency per consistency level (the mean: defined for any sample size), a point per variant,
    one panel per op (log scale, so points, not bars)."""
    table = table.dropna(subset=["latency_avg_ms"]) if "latency_avg_ms" in table else table.iloc[0:0]
    if table.empty:
        return None
    levels = [c for c in ["Strong", "Session", "Bounded", "Eventually"] if c in set(table["consistency_level"])]
    return _log_catplot(table, "consistency level", _axis_label("latency_avg_ms"),
                        "serial latency per consistency level", x="consistency_level", y="latency_avg_ms",
                        hue="variant", col="op", kind="point", height=3.4, aspect=1.1, order=levels,
                        linestyle="none", dodge=0.3)


@_tidied
def insert_curve(curves: pd.DataFrame) -> plt.Figure | None:
    """Rows acknowledged against seconds of each load, a line per variant and N (a straight line: the rate
    held; a bend: ingest slowed as the store grew)."""
    if curves.empty:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    data = curves.assign(load=curves["variant"].astype(str) + " N=" + curves["n"].map(lambda n: f"{n:,.0f}"))
    sns.lineplot(data=data, x="elapsed_s", y="rows_acked", hue="load", style="load", dashes=dashes(data["load"]),
                 estimator=None, ax=ax, palette=palette(data["load"]))
    ax.set(xlabel="seconds since every loader was connected", ylabel="rows acknowledged", title="insert curve")
    return fig


@_tidied
def scale_curves(points: pd.DataFrame, fitted: pd.DataFrame) -> plt.Figure | None:
    """Each scale metric against N on log-log axes, a line per MQ (measured, solid); where the fit may be
    extrapolated, a dashed line from the largest measured N to the model's value at the target N (×). Nothing
    when no MQ was measured at two sizes (one dot per panel says nothing a table does not)."""
    if points.empty or points.groupby(["metric", "mq"])["n"].nunique().max() < 2:
        return None
    metrics = list(dict.fromkeys(points["metric"]))
    cols = min(3, len(metrics))
    rows_ = -(-len(metrics) // cols)
    fig, axes = plt.subplots(rows_, cols, figsize=(4.3 * cols, 3.3 * rows_), squeeze=False)
    colours = palette(points["mq"])
    extrapolated = fitted[fitted["extrapolated"].notna()] if len(fitted) else fitted
    for ax, metric in zip(axes.flat, metrics):
        part = points[points["metric"] == metric]
        sns.lineplot(data=part, x="n", y="value", hue="mq", palette=colours, style="mq", dashes=dashes(part["mq"]),
                     markers=markers(part["mq"]), errorbar=("pi", 100), ax=ax, legend=ax is axes.flat[0])
        for row in extrapolated[extrapolated["metric"] == metric].itertuples():
            ax.plot([row.largest_n, row.target_n], [row.at_largest_n, row.extrapolated], "--", color=colours[row.mq])
            ax.plot([row.target_n], [row.extrapolated], "x", color=colours[row.mq])
        ax.set(xscale="log", yscale="log", xlabel="N (vectors)", ylabel=f"{metric} ({part['unit'].iloc[0]})",
               title=metric)
    for ax in list(axes.flat)[len(metrics):]:
        ax.set_visible(False)
    fig.suptitle("measured (solid)" + (" and extrapolated (dashed to ×, not measured)" if len(extrapolated) else ""),
                 y=1.01)
    return fig
