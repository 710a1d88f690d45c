"""The seed study's published numbers (Milvus blog, 2023-11-24), transcribed in ``data/seed_tables.csv``."""
from __future__ import annotations

import pandas as pd

from mqbench.core.paths import DATA

SEED_CSV = DATA / "seed_tables.csv"
SEED_N = 100_000_000
SEED_PLATFORM = ("not stated for Table 2; the post's pub/sub tests ran on an Apple M1 Pro with 16 GB, "
                 "presumably the same machine")

# Seed "Table 2" metric -> (our op, our phase, our summary column)
TABLE2 = {
    "search_latency_avg": ("search", "serial", "latency_avg_ms"),
    "search_rps": ("search", "concurrent", "rps"),
    "query_latency_avg": ("query", "serial", "latency_avg_ms"),
    "query_rps": ("query", "concurrent", "rps"),
}


def seed_table(table: str) -> pd.DataFrame:
    """Rows of one seed table: ``pubsub`` (Table 1) or ``integration`` (Table 2)."""
    df = pd.read_csv(SEED_CSV)
    return df[df["table"] == table].reset_index(drop=True)
