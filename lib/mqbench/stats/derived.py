"""Columns computed from a row's raw ones: filled as a phase is recorded, and again when a summary is read, for
rows recorded before a column existed (the raw columns are kept; the derived ones can always be recomputed)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from mqbench.core.schema import Op

CLIENT_LIMIT = 0.5  # an insert whose client used at least this share of the server's CPU may have set the pace
DERIVED = ("server_cores_busy", "server_cpu_ms_per_request", "mb_per_s", "server_cpu_s_per_gb", "client_limited",
           "server_rss_mib")


def derive(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with every derived column filled where it is missing: the cores the server kept busy, its CPU per
    measured request; for an insert its MB/s, the server's CPU per GB carried and whether the client (this process
    and any loader processes) may have been the limit; for an idle window without ``server_rss_mib``, the
    window's peak RSS (the server at rest)."""
    out = rows.copy()

    def get(column: str) -> pd.Series:
        return pd.to_numeric(out[column], errors="coerce") if column in out else pd.Series(np.nan, index=out.index)

    def fill(column: str, values: pd.Series) -> None:
        out[column] = get(column).fillna(values) if column in out else values

    op = out["op"] if "op" in out else pd.Series("", index=out.index)
    wall, server, count = get("duration_s"), get("server_cpu_s"), get("count")
    fill("server_cores_busy", server / wall.where(wall > 0))
    fill("server_cpu_ms_per_request", 1000 * server / count.where(count > 0))
    carried = get("mq_bytes_carried").where(op.eq(Op.INSERT) & (get("mq_bytes_carried") > 0))
    seconds = get("insert_s").fillna(wall)
    fill("mb_per_s", carried / 1e6 / seconds.where(seconds > 0))
    fill("server_cpu_s_per_gb", server.where(server > 0) / (carried / 1e9))
    client = get("client_cpu_s").fillna(0) + get("loader_cpu_s").fillna(0)
    fill("client_limited", (client >= CLIENT_LIMIT * server).astype(float).where(carried.notna() & (server > 0)))
    fill("server_rss_mib", get("server_rss_peak_mib").where(op.eq(Op.IDLE)))
    return out


def derived_fields(row: dict) -> dict:
    """The derived columns of one row being recorded (only those it has the raw columns for)."""
    values = derive(pd.DataFrame([row]))[list(DERIVED)].iloc[0]
    return {k: (int(v) if k == "client_limited" else float(v)) for k, v in values.items()
            if pd.notna(v) and k not in row}
