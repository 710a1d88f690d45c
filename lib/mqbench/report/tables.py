"""The report's tables, each built from ``summary.parquet`` (and ``raw/`` where a distribution is drawn).

Every table groups by variant and by every parameter the run swept (``configuration``), so a grid
over N or index types never mixes configurations in one cell. Verdicts come from
:mod:`mqbench.stats.findings`; the page is assembled by :mod:`mqbench.core.page`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mqbench.core import results, schema
from mqbench.core.mqs import MQ
from mqbench.core.schema import Notebook, Publish, Status
from mqbench.data.seed import SEED_N, SEED_PLATFORM, TABLE2, seed_table
from mqbench.stats.derived import derive
from mqbench.stats.scaling import CLIENT_BOUND

NOT_CONFIG = {"repeat", "run_id", "notebook", "seed", "variants", "server_overrides", "delta", "blocks",
              "sweep_blocks", "block", "queries", "mq", "variant"}


def configuration(summary: pd.DataFrame, declared: dict[str, list[str]] | None = None) -> list[str]:
    """The parameter columns that take more than one value among one notebook's rows (the parameters the run's
    manifest says its notebooks declared: never today's notebooks) — the dataset's actual
    ``data_*`` columns standing for ``n``, ``dim``, ``metric`` and ``dataset`` — plus ``data_n`` when it varies:
    the keys a table must group by so configurations never mix."""
    declared = declared or summary.attrs.get("declared") or {}
    actual = {"n": "data_n", "dim": "data_dim", "metric": "data_metric", "dataset": "data_name"}
    keys = set()
    for notebook, params in declared.items():
        rows = results.rows(summary, ok=False, notebook=notebook)
        for name in params:  # what the data turned out to be, where recorded, rather than what was asked
            column = actual[name] if name in actual and actual[name] in rows else name
            if column in rows and name not in NOT_CONFIG and rows[column].astype(str).nunique() > 1:
                keys.add(column)
    if "data_n" in summary and summary["data_n"].dropna().nunique() > 1:
        keys.add("data_n")
    return sorted(keys)


def _group(df: pd.DataFrame, keys: list[str], columns: list[str], how: str = "median") -> pd.DataFrame:
    keys = [k for k in keys if k in df]
    columns = [c for c in columns if c in df]
    if df.empty or not columns:
        return pd.DataFrame(columns=keys + columns)
    return df.groupby(keys, dropna=False, sort=True)[columns].agg(how).reset_index()


# -- Table 2 -----------------------------------------------------------------------------------------------
def table2(summary: pd.DataFrame) -> pd.DataFrame:
    """The seed's Table 2 shape, ours beside theirs: one row per (configuration, metric, variant).

    From the paired blocks of ``search_query`` (latency: mean of the per-block means of serial requests;
    RPS: median over blocks at the blocks' concurrency) and from ``scale_curve`` at each N. The seed's
    "RPS" figures cannot be requests per second at a 20 ms mean latency (that allows ~50/s per client):
    they are shown as printed, under their own label.
    """
    df = results.rows(summary)
    blocks = results.rows(df, sweep=schema.Sweep.BLOCKS)
    scale = results.rows(df, notebook=Notebook.SCALE_CURVE)
    seed = seed_table("integration").set_index(["metric", "mq"])["value"]
    keys = [k for k in ["notebook", "data_name", "data_n", "data_dim", "index_type", "variant", "mq"] if k in df]
    out = []
    for source in (blocks, scale):
        for metric, (op, phase, column) in TABLE2.items():
            part = results.rows(source, ok=False, op=op, phase=phase)
            if part.empty or column not in part:
                continue
            for key, rows in part.groupby(keys, dropna=False):
                row = dict(zip(keys, key))
                values = rows[column].dropna()
                out.append({**row, "metric": metric, "ours": values.mean() if "latency" in metric else values.median(),
                            "ours_min": values.min(), "ours_max": values.max(), "rows_behind": len(values),
                            "ours_unit": "ms" if "latency" in metric else "requests/s",
                            "latency_p50_ms": rows["latency_p50_ms"].median() if "latency_p50_ms" in rows else np.nan,
                            "latency_p99_ms": rows["latency_p99_ms"].median() if "latency_p99_ms" in rows else np.nan,
                            "seed_100M": seed.get((metric, row.get("mq"))),
                            "seed_unit": "ms" if "latency" in metric else "the seed's 'RPS' (definition unknown)"})
    return pd.DataFrame(out)


def table2_directions(t2: pd.DataFrame) -> pd.DataFrame:
    """Per metric (and N): natsmq ÷ rocksmq in our Table 2 beside the seed's, and whether they point the same way
    (which MQ is better). Ours is one run's ratio; its verdict and interval are in the Findings."""
    nats, rocks = MQ.NATSMQ.value, MQ.ROCKSMQ.value
    if t2.empty or not {nats, rocks} <= set(t2["mq"]):
        return pd.DataFrame()
    keys = [k for k in ("notebook", "data_n") if k in t2]
    wide = t2.pivot_table(index=[*keys, "metric"], columns="mq", values=["ours", "seed_100M"], aggfunc="first")
    out = pd.DataFrame({"ours natsmq ÷ rocksmq": wide[("ours", nats)] / wide[("ours", rocks)],
                        "seed natsmq ÷ rocksmq": wide[("seed_100M", nats)] / wide[("seed_100M", rocks)]})
    same = np.sign(np.log(out.iloc[:, 0])) == np.sign(np.log(out.iloc[:, 1]))
    out["same direction as the seed"] = np.where(out.iloc[:, 1].isna(), "—", np.where(same, "yes", "no"))
    return out.round(3).reset_index()


def table2_context(summary: pd.DataFrame, manifest: dict) -> str:
    """What stands beside Table 2: the seed's N and host, and ours."""
    host = manifest.get("host", {})
    ns = sorted({int(n) for n in summary.get("data_n", pd.Series(dtype=float)).dropna().unique()})
    return (f"Seed: N = {SEED_N:,} vectors; host {SEED_PLATFORM}. Ours: N = {', '.join(f'{n:,}' for n in ns) or '—'}; "
            f"host {host.get('cpu_model', '?')}, {host.get('logical_cores', '?')} logical cores, "
            f"{host.get('ram_gb', '?')} GB RAM, client and server on the same machine.")


# -- loads and sweeps ----------------------------------------------------------------------------------------
def load_phases(summary: pd.DataFrame) -> pd.DataFrame:
    """Median duration and resources of each load phase per variant and configuration."""
    df = results.rows(summary, op=schema.LOAD_OPS)
    columns = ["duration_s", "rows_per_s", "server_cpu_s", "server_rss_peak_mib", "mq_storage_bytes",
               "mq_bytes_carried"]
    table = _group(df, ["notebook", *configuration(summary), "op", "variant", "mq"], columns)
    if table.empty:
        return table
    table["op"] = pd.Categorical(table["op"], schema.LOAD_OPS, ordered=True)
    return table.sort_values([c for c in ["notebook", "op", "variant"] if c in table]).reset_index(drop=True)


WRITE_COLUMNS = {  # (op, column) -> the write-path table's column, in its order
    (schema.Op.INSERT, "rows_per_s"): "rows_per_s", (schema.Op.INSERT, "mb_per_s"): "mb_per_s",
    (schema.Op.FLUSH, "flushed_s"): "flushed_s", (schema.Op.INDEX, "duration_s"): "index_s",
    (schema.Op.INSERT, "server_rss_peak_mib"): "server_rss_peak_mib",
    (schema.Op.IDLE, "server_rss_mib"): "idle_rss_mib",
    (schema.Op.INSERT, "server_cpu_s_per_gb"): "server_cpu_s_per_gb",
    (schema.Op.IDLE, "server_cores_busy"): "idle_cores_busy",
    (schema.Op.FLUSH, "mq_disk_per_byte"): "mq_disk_per_byte", (schema.Op.INSERT, "client_cpu_s"): "client_cpu_s",
    (schema.Op.INSERT, "server_cpu_s"): "server_cpu_s", (schema.Op.INSERT, "client_limited"): "client_limited",
}


def write_path(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per build of the write path (prepared inserts, ``scale_curve.ipynb`` repeated by a grid): each phase's
    numbers side by side, the client's and the server's CPU over the insert, and whether the client may have set the
    pace; warm-up builds (repeat −1) marked."""
    inserts = results.rows(summary, op=schema.Op.INSERT)
    if "load_method" not in inserts or "repeat" not in inserts:
        return pd.DataFrame()
    builds = inserts.loc[inserts["load_method"].eq(schema.LoadMethod.PREPARED), ["repeat", "variant"]].drop_duplicates()
    if builds.empty:
        return pd.DataFrame()
    rows = results.rows(summary, op=sorted({op for op, _ in WRITE_COLUMNS})).merge(builds, on=["repeat", "variant"])
    out = builds.set_index(["repeat", "variant"])
    for (op, column), name in WRITE_COLUMNS.items():
        if column in rows:
            part = rows[rows["op"] == op].groupby(["repeat", "variant"])[column].first()
            out[name] = part
    out = out.reset_index().sort_values(["repeat", "variant"])
    out["repeat"] = out["repeat"].map(lambda r: "warm-up" if r < 0 else int(r))
    if "client_limited" in out:
        out["client_limited"] = out["client_limited"].map({1: "yes", 0: "no"}).fillna("—")
    return out.rename(columns={"repeat": "build"}).reset_index(drop=True)


def sweep(summary: pd.DataFrame) -> pd.DataFrame:
    """Latency and RPS per (op, concurrency, variant) of the concurrency sweep, median over sweep blocks,
    with the client's CPU share and whether the client was the bottleneck."""
    df = results.rows(summary, sweep=schema.Sweep.CONCURRENCY)
    table = _group(df, [*configuration(summary), "op", "phase", "concurrency", "variant", "mq"],
                   ["rps", "latency_avg_ms", "latency_p50_ms", "latency_p99_ms", "errors", "client_cpu_share",
                    "server_cpu_s"])
    if "client_cpu_share" in table:
        table["client_bound"] = table["client_cpu_share"] > CLIENT_BOUND
    return table


def latency_vs_rps(summary: pd.DataFrame) -> pd.DataFrame:
    """Every closed-loop level and open-loop rate of search, per variant and sweep block."""
    df = results.rows(summary)
    closed = results.rows(df, ok=False, sweep=schema.Sweep.CONCURRENCY)
    closed = results.rows(closed, ok=False, op=schema.Op.SEARCH, phase=schema.Phase.CONCURRENT)
    opened = results.rows(df, ok=False, op=schema.Op.SEARCH, phase=schema.Phase.OPEN_LOOP)
    out = pd.concat([closed.assign(mode="closed loop"), opened.assign(mode="open loop")], ignore_index=True)
    columns = ["mode", "variant", "mq", "block", "concurrency", "target_rps", "scheduled", "completed", "rps",
               "latency_p50_ms", "latency_p99_ms", "latency_p999_ms", "errors", "not_sent", "client_cpu_share"]
    out = out[[c for c in columns if c in out]]
    return out.sort_values([c for c in ["mode", "variant", "block", "concurrency", "target_rps"] if c in out]) \
        .reset_index(drop=True)


def knee(summary: pd.DataFrame, keep_up: float = 0.95) -> pd.DataFrame:
    """Per variant and sweep block, the highest open-loop target rate the server kept up with: of the
    requests actually scheduled in the window, at least ``keep_up`` completed without error and none was
    left unsent (the number scheduled is random under Poisson arrivals, so it is the reference, not the
    nominal rate). ``highest_rate_tried``: it kept up with every rate, so the knee lies above it."""
    df = latency_vs_rps(summary)
    df = df[df["mode"] == "open loop"] if len(df) else df
    if df.empty or "scheduled" not in df:
        return pd.DataFrame()
    df = df.assign(block=df["block"].fillna(0) if "block" in df else 0)
    kept = df[(df["completed"] >= keep_up * df["scheduled"]) & (df["not_sent"].fillna(0) == 0)]
    best = kept.loc[kept.groupby(["variant", "block"])["target_rps"].idxmax()] if len(kept) else kept
    tried = df.groupby(["variant", "block"])["target_rps"].max()
    best = best.assign(highest_rate_tried=[rate == tried[v, b] for v, b, rate in
                                           zip(best["variant"], best["block"], best["target_rps"])])
    return best[["variant", "block", "target_rps", "scheduled", "completed", "rps", "latency_p99_ms",
                 "highest_rate_tried"]].rename(columns={"target_rps": "knee_target_rps", "rps": "achieved_rps"}) \
        .reset_index(drop=True)


def recall_qps(summary: pd.DataFrame) -> pd.DataFrame:
    """Recall (serial) and RPS (closed loop) per search-parameter value, per variant and sweep block."""
    df = results.rows(summary, sweep=schema.Sweep.SEARCH_PARAMS)
    if df.empty or "point" not in df:
        return pd.DataFrame()
    keys = ["variant", "mq", "block", "point", "knob"]
    serial = results.rows(df, ok=False, phase=schema.Phase.SERIAL)[keys + ["recall_at_k", "latency_avg_ms"]]
    conc = results.rows(df, ok=False, phase=schema.Phase.CONCURRENT)[keys + ["rps", "latency_p99_ms", "concurrency"]]
    return serial.merge(conc, on=keys, how="inner").sort_values(["variant", "knob", "block"]).reset_index(drop=True)


def operating_point(summary: pd.DataFrame) -> pd.DataFrame:
    """The recall–latency curve measured on the build before it was served (serial search per search setting,
    cheapest first, up to the first reaching the target recall), and which setting became the operating point."""
    df = results.rows(summary, sweep=schema.Sweep.SEARCH_PARAMS, phase=schema.Phase.SERIAL)
    if df.empty or "operating_point" not in summary or summary["operating_point"].dropna().empty:
        return pd.DataFrame()
    chosen = summary["operating_point"].dropna().iloc[0]
    columns = [c for c in ["variant", "point", "knob", "recall_at_k", "latency_avg_ms", "latency_p50_ms",
                           "latency_count", "data_n"] if c in df]
    return df[columns].assign(operating_point=df["point"].eq(chosen)).sort_values("knob").reset_index(drop=True)


def served_starts(summary: pd.DataFrame) -> pd.DataFrame:
    """Per start of the served build and variant: how the server came up (launch order, seconds, retries), what
    it served (the rows a Strong ``count(*)`` saw, its segments and their sizes) and its own CPU while idle."""
    counted = results.rows(summary, op=schema.Op.COUNT_ROWS, phase=schema.Phase.LIFECYCLE)
    if counted.empty or "start" not in counted:
        return pd.DataFrame()
    keys = ["start", "variant"]
    out = counted[[*keys, *[c for c in ["block_order", "rows_counted", "segments", "segment_rows_min",
                                        "segment_rows_max"] if c in counted]]]
    started = results.rows(summary, op=schema.Op.SERVER_START).dropna(subset=["start"])
    if len(started):
        out = out.merge(started[[*keys, "duration_s", *[c for c in ["start_retries"] if c in started]]]
                        .rename(columns={"duration_s": "start_s"}), on=keys, how="left")
    idle = results.rows(summary, op=schema.Op.IDLE).dropna(subset=["start"])
    if len(idle):
        idle = derive(idle).rename(columns={"server_cores_busy": "idle_server_cores_busy"})
        out = out.merge(idle[[*keys, "idle_server_cores_busy"]], on=keys, how="left")
    return out.sort_values(["start", "block_order" if "block_order" in out else "variant"]).reset_index(drop=True)


def consistency(summary: pd.DataFrame) -> pd.DataFrame:
    """Serial latency per consistency level, op and variant (median over sweep blocks). Strong reads wait
    for the time tick: one server start per variant cannot say which MQ waits longer (see the tick study)."""
    df = results.rows(summary, sweep=schema.Sweep.CONSISTENCY)
    return _group(df, ["op", "consistency_level", "variant", "mq"],
                  ["latency_p50_ms", "latency_p99_ms", "latency_avg_ms", "latency_count"])


def shapes(summary: pd.DataFrame) -> pd.DataFrame:
    """Request shapes and query kinds: serial p50 latency and closed-loop RPS per point and variant."""
    df = results.rows(summary, sweep=[schema.Sweep.SHAPE, schema.Sweep.QUERY_KIND])
    if df.empty or "point" not in df:
        return pd.DataFrame()
    keys = ["sweep", "op", "point", "variant"]
    serial = _group(results.rows(df, ok=False, phase=schema.Phase.SERIAL), keys, ["latency_p50_ms", "latency_p99_ms"])
    conc = _group(results.rows(df, ok=False, phase=schema.Phase.CONCURRENT), keys, ["rps", "client_cpu_share"])
    return serial.merge(conc, on=keys, how="outer")


# -- the seed's Table 1 -------------------------------------------------------------------------------------------
def table1(summary: pd.DataFrame, bound: float = 0.8) -> pd.DataFrame:
    """The seed's Table 1 shape, one row per (level, shape, broker configuration): s/op, memory, CPU and storage
    per op over every op of every block. The seed's figures stand beside the ``strict`` broker rows only (its op
    waits for each ack) — its CPU and storage were totals over 50 ops, shown per op. ``bound_by``, over all ops:
    the client when it used at least ``bound`` of a core or more CPU than the broker, else the broker; "one
    process" for the in-process RocksDB model."""
    df = results.rows(summary, ok=False, op=schema.Op.PUBSUB)
    if df.empty:
        return pd.DataFrame()
    ok = df["status"] == Status.OK
    df = df.assign(ok=ok, growth=df.get("mq_storage_growth_bytes"))
    keys = ["phase", "shape", "variant", "mq", "broker", "publish"]
    table = pd.DataFrame([{**dict(zip(keys, key)), **_table1_row(g, str(key[4]).startswith("rocksdb"), bound)}
                          for key, g in df.groupby(keys, sort=False)]).rename(columns={"phase": "level"})
    seed = seed_table("pubsub").pivot_table(index=["test", "mq"], columns="metric", values="value")
    strict = (table["level"] == schema.Phase.BROKER) & (table["publish"] == Publish.STRICT)
    for column, metric, scale in [("seed_s_per_op", "s_per_op", 1), ("seed_memory_gb", "memory", 1),
                                  ("seed_cpu_s_per_op", "cpu_total", 1 / 50),
                                  ("seed_storage_gb_per_op", "storage", 1 / 50)]:
        table[column] = [seed[metric].get((shape, mq), np.nan) * scale if is_strict else np.nan
                         for shape, mq, is_strict in zip(table["shape"], table["mq"], strict)]
    return table


def table1_inside(summary: pd.DataFrame) -> pd.DataFrame:
    """Table 1 inside Milvus: per shape and MQ, what Milvus's own MQ client did over each through-Milvus op — produce
    calls per op, their mean (whole ms, truncated) and the bucket bounds under which half and 99% fell, the
    time-tick lag at the query and data nodes at the op's end — beside the op end to end per message, and the seed's
    time per message at the same message size (its s/op ÷ its count; its op was Milvus's Go client in process)."""
    df = results.rows(summary, op=schema.Op.PUBSUB, phase=schema.Phase.MILVUS)
    if df.empty or "milvus_produce_n" not in df:
        return pd.DataFrame()
    seed = seed_table("pubsub")
    seed = seed[seed["metric"] == "s_per_op"].assign(size=lambda d: d["test"].str.split("*").str[0],
                                                     count=lambda d: d["test"].str.split("*").str[1].astype(float))
    rows = []
    for (shape, variant, mq), g in df.groupby(["shape", "variant", "mq"], sort=False):
        size, count = str(shape).split("*")[0], float(str(shape).split("*")[1])
        calls = g["milvus_produce_n"].fillna(0)
        match = seed[(seed["size"] == size) & (seed["mq"] == mq)]
        rows.append({"shape": shape, "variant": variant, "ops": len(g),
                     "produce_calls_per_op": calls.median(),
                     "produce_ms_mean": float((g["milvus_produce_ms"] * calls).sum() / calls.sum()) if calls.sum() else np.nan,
                     "produce_p50_le_ms": g.get("milvus_produce_p50_le_ms", pd.Series(dtype=float)).median(),
                     "produce_p99_le_ms": g.get("milvus_produce_p99_le_ms", pd.Series(dtype=float)).max(),
                     "qn_tt_lag_ms": g.get("milvus_qn_consume_tt_lag_ms", pd.Series(dtype=float)).median(),
                     "dn_tt_lag_ms": g.get("milvus_dn_consume_tt_lag_ms", pd.Series(dtype=float)).median(),
                     "end_to_end_ms_per_message": g["s_per_op"].median() / count * 1000,
                     "server_cpu_s_per_op": g["server_cpu_s"].median() if "server_cpu_s" in g else np.nan,
                     "seed_ms_per_message": float(match["value"].iloc[0] / match["count"].iloc[0] * 1000)
                     if len(match) else np.nan})
    return pd.DataFrame(rows)


def _table1_row(g: pd.DataFrame, in_process: bool, bound: float) -> dict:
    good = g[g["ok"]]
    client_util = good["client_cpu_s"].sum() / good["duration_s"].sum() if len(good) else np.nan
    bound_by = "one process" if in_process else (
        "client" if client_util >= bound or good["client_cpu_s"].sum() >= good["server_cpu_s"].sum() else "broker")
    return {"ops": len(good), "failed_ops": int((~g["ok"]).sum()), "s_per_op": good["s_per_op"].median(),
            "s_per_op_min": good["s_per_op"].min(), "s_per_op_max": good["s_per_op"].max(),
            "mib_per_s": good["mib_per_s"].median(), "memory_gib": good["server_rss_peak_mib"].max() / 1024,
            "broker_cpu_s_per_op": good["server_cpu_s"].median(), "client_cpu_s_per_op": good["client_cpu_s"].median(),
            "storage_gib_per_op": good["growth"].median() / 2**30 if good["growth"].notna().any() else np.nan,
            "client_cpu_of_a_core": client_util, "bound_by": bound_by,
            "error": next((e for e in g.get("error", pd.Series(dtype=str)).dropna()), "")}


def pubsub_ops(summary: pd.DataFrame) -> pd.DataFrame:
    """Seconds of every successful op, labelled for plotting."""
    df = results.rows(summary, op=schema.Op.PUBSUB)
    if df.empty:
        return pd.DataFrame(columns=["shape", "level", "series", "seconds"])
    return pd.DataFrame({"shape": df["shape"], "level": df["phase"], "series": df["variant"], "seconds": df["s_per_op"]})


# -- time tick, freshness, recovery ------------------------------------------------------------------------------
def raw_of(run_dir: str | Path, rows: pd.DataFrame) -> pd.DataFrame:
    """The raw rows behind ``rows`` (their ``raw_file``s), concatenated; empty for a published run, which keeps
    no raw files (its report draws what the summary holds)."""
    files = rows["raw_file"].dropna().unique() if "raw_file" in rows else []
    frames = [pd.read_parquet(Path(run_dir) / f) for f in files if (Path(run_dir) / f).exists()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def tick(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per server start and kind of the time-tick study: mean, fastest and slowest sample."""
    df = results.rows(summary, phase=schema.Phase.TICK)
    if df.empty:
        return df
    lag = df["op"] == schema.Op.INSERT_VISIBLE
    out = pd.DataFrame({"kind": np.where(lag, "insert→visible", "Strong " + df["op"].astype(str)),
                        "variant": df["variant"], "mq": df["mq"], "block": df["block"],
                        "mean_ms": np.where(lag, df.get("lag_avg_ms"), df.get("latency_avg_ms")),
                        "fastest_ms": np.where(lag, df.get("lag_min_ms"), df.get("latency_min_ms")),
                        "slowest_ms": np.where(lag, df.get("lag_max_ms"), df.get("latency_max_ms")),
                        "samples": df["count"]})
    return out.sort_values(["kind", "variant", "block"]).reset_index(drop=True)


def tick_samples(run_dir: str | Path, summary: pd.DataFrame) -> pd.DataFrame:
    """Every sample of the time-tick study, tidy: kind, variant, start (block), ms."""
    df = results.rows(summary, phase=schema.Phase.TICK)
    frames = []
    for row in df.to_dict("records"):
        path = Path(run_dir) / str(row.get("raw_file"))
        if not row.get("raw_file") or not path.exists():
            continue
        raw = pd.read_parquet(path)
        if row["op"] == schema.Op.INSERT_VISIBLE:
            ms, kind = raw.loc[raw["visible"], "lag_ms"], "insert→visible"
        else:
            ms, kind = raw.loc[raw["ok"] & ~raw["warmup"], "latency_ns"] / 1e6, f"Strong {row['op']}"
        frames.append(pd.DataFrame({"kind": kind, "variant": row["variant"], "start": row["block"], "ms": ms.values}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["kind", "variant", "start", "ms"])


def tick_period_ms(summary: pd.DataFrame) -> float:
    """``proxy.timeTickInterval`` of the run (an override if one was set, else Milvus's default 200 ms)."""
    import json

    for value in summary.get("server_overrides", pd.Series(dtype=object)).dropna().unique():
        overrides = json.loads(value) if isinstance(value, str) else value
        if isinstance(overrides, dict) and "proxy.timeTickInterval" in overrides:
            return float(overrides["proxy.timeTickInterval"])
    return 200.0


def tick_text(rows: pd.DataFrame, samples: pd.DataFrame, summary: pd.DataFrame) -> str:
    """How much of the wait the tick period explains, and what each variant adds beyond it."""
    period = tick_period_ms(summary)
    lines = [f"Tick period: {period:.0f} ms (`proxy.timeTickInterval`)."]
    for kind, part in rows.groupby("kind"):
        per_variant = []
        for variant, v in part.groupby("variant"):
            per_variant.append(f"{variant}: per-start means {v['mean_ms'].min():.0f}–{v['mean_ms'].max():.0f} ms "
                               f"(median {v['mean_ms'].median():.0f}), fastest sample per start "
                               f"{v['fastest_ms'].median():.0f} ms (median over starts)")
        lines.append(f"**{kind}** — " + "; ".join(per_variant) + ".")
    lat = samples.loc[samples["kind"].str.startswith("Strong"), "ms"] if len(samples) else pd.Series(dtype=float)
    if len(lat) >= 20:
        spread = np.percentile(lat, 95) - np.percentile(lat, 5)
        lines.append(f"Pooled over every start and variant, Strong reads spread over {spread:.0f} ms between their 5th "
                     f"and 95th percentiles, {spread / period:.2f} tick periods: a request arriving at a random time "
                     "waits for the next tick, the per-start floor (fastest sample) is the fixed phase between "
                     "Milvus's tick loops plus the MQ's delivery of the tick message.")
    return "\n\n".join(lines)


def freshness(summary: pd.DataFrame) -> pd.DataFrame:
    """Insert→visible lag per (consistency level, batch size, variant) on the long-lived servers."""
    df = results.rows(summary, op=schema.Op.INSERT_VISIBLE, phase=schema.Phase.FRESHNESS)
    return _group(df, ["consistency_level", "batch_rows", "variant", "mq"],
                  ["lag_avg_ms", "lag_p50_ms", "lag_p95_ms", "lag_max_ms", "ack_avg_ms", "count", "errors"])


def mixed(summary: pd.DataFrame) -> pd.DataFrame:
    """Search while inserting: RPS and latency with and without the background writer."""
    df = results.rows(summary, op=schema.Op.SEARCH, phase=schema.Phase.MIXED)
    return _group(df, ["consistency_level", "writer_target_rows_per_s", "variant", "mq"],
                  ["rps", "latency_p50_ms", "latency_p99_ms", "errors", "writer_achieved_rows_per_s",
                   "writer_late_batches", "client_cpu_share"])


def recovery(summary: pd.DataFrame) -> pd.DataFrame:
    """Restart after SIGKILL: time to serve again, until every acknowledged row is counted, rows lost."""
    df = results.rows(summary, op=schema.Op.RECOVERY)
    columns = ["variant", "mq", "rows_acked", "restart_s", "serving_s", "all_visible_s", "rows_visible", "rows_lost",
               "rows_duplicated"]
    return df[[c for c in columns if c in df]].reset_index(drop=True)


def migration(run_dir: str | Path, summary: pd.DataFrame) -> pd.DataFrame:
    """Each migration check, ✓ or ✗, with its numbers, for the flushed and the unflushed case."""
    df = results.rows(summary, ok=False, op=schema.Op.MIGRATION) if "op" in summary else summary.iloc[0:0]
    checks = raw_of(run_dir, df)
    if checks.empty:
        return checks
    checks["result"] = checks["passed"].map({"True": "✓", "False": "✗"})
    return checks[[c for c in ["migration", "flush", "collection", "check", "result", "before", "after"] if c in checks]]


def insert_curves(run_dir: str | Path, summary: pd.DataFrame) -> pd.DataFrame:
    """The insert curve of every load (time, rows acknowledged, MQ bytes), with its variant and N."""
    df = results.rows(summary)
    df = df[(df["op"] == schema.Op.INSERT) & df.get("raw_file", pd.Series(dtype=object)).notna()] if len(df) else df
    frames = [pd.read_parquet(Path(run_dir) / row["raw_file"]).assign(variant=row["variant"], n=row.get("data_n"))
              for row in df.to_dict("records") if (Path(run_dir) / row["raw_file"]).exists()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


MILVUS_VIEW = ["latency_avg_ms", "lag_avg_ms", "milvus_proxy_sq_ms", "milvus_tsafe_wait_ms", "milvus_qn_queue_ms",
               "milvus_qn_segment_ms", "milvus_qn_consume_tt_lag_ms", "milvus_rootcoord_produce_tt_lag_ms",
               "milvus_produce_ms", "milvus_produce_n", "milvus_produce_p50_le_ms", "milvus_produce_p99_le_ms",
               "milvus_dn_consume_tt_lag_ms", "s_per_op", "server_cpu_s", "server_rss_peak_mib"]


def milvus_view(summary: pd.DataFrame) -> pd.DataFrame:
    """Milvus's own series beside the client's numbers, per kind of measurement and variant: the mean over the
    run's rows (start pairs' blocks and samples, pub/sub ops through Milvus). Whole milliseconds, truncated."""
    df = results.rows(summary)
    if "milvus_proxy_sq_ms" not in df and "milvus_produce_ms" not in df:
        return pd.DataFrame()
    kinds = df.get("sweep", pd.Series(index=df.index, dtype=object)).isin([schema.Sweep.BLOCKS, schema.Sweep.TICK]) \
        | df["phase"].eq(schema.Phase.MILVUS)
    df = df[kinds]
    if df.empty:
        return df
    shape = df["shape"] if "shape" in df else pd.Series(np.nan, index=df.index)
    df = df.assign(kind=df["op"].astype(str) + " · " + df["phase"].astype(str)
                   + np.where(shape.notna(), " · " + shape.astype(str), ""))
    columns = [c for c in MILVUS_VIEW if c in df]
    table = df.groupby(["kind", "variant"], sort=False)[columns].mean().round(2)
    table["rows"] = df.groupby(["kind", "variant"], sort=False).size()
    return table.dropna(axis=1, how="all").reset_index()
