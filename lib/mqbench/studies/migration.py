"""``migration.ipynb``: the seed's migration procedure on a server mqbench started, verified, with and
without the flush."""
from __future__ import annotations

import numpy as np
import pandas as pd

from mqbench.core import checks, schema, studies
from mqbench.core.errors import ParameterError
from mqbench.core.schema import Notebook
from mqbench.data import ingest
from mqbench.measure.remount import migrate_and_verify
from mqbench.milvus.server import check_mq

NOTEBOOK = Notebook.MIGRATION
STUDY = studies.declare(studies.Study(NOTEBOOK))
# what the notebook calls after check(), in order
STEPS = ("run_case",)


def check(p: dict) -> None:
    check_mq(p["from_mq"])
    check_mq(p["to_mq"])
    if p["from_mq"] == p["to_mq"]:
        raise ParameterError(f"to_mq equals from_mq ({p['to_mq']}): nothing to migrate")
    for name in ("n", "dim", "queries", "k"):
        checks.integer(name, p[name])
    if not isinstance(p["flush_cases"], list) or not p["flush_cases"]:
        raise ParameterError(f"flush_cases must be a non-empty list of true/false, got {p['flush_cases']!r}")


def run_case(session, p: dict, flush: bool) -> pd.DataFrame:
    """One server with ``n`` acknowledged, unflushed rows, migrated (flushing first or not) and verified;
    returns the checks."""
    (variant,) = session.start_variants(p["from_mq"], overrides=p["server_overrides"],
                                        folder="flush" if flush else "no-flush")
    vectors = np.random.default_rng(p["seed"]).standard_normal((p["n"], p["dim"]), dtype=np.float32)
    with variant.conn.client(timeout=600) as client:
        ingest.flat_collection(client, "migrate", p["dim"])  # exact search: top-k comparable across states
        ingest.insert(client, "migrate", vectors, batch_rows=10_000)
    label = f"{p['from_mq']}->{p['to_mq']}"
    with session.track(schema.Op.MIGRATION, schema.Phase.MIGRATE, variant, flush=flush, rows=p["n"],
                       migration=label) as t:
        timings, checks = migrate_and_verify(variant.server, p["to_mq"], p["target_overrides"], flush=flush,
                                             remove_old=p["remove_old"], k=p["k"], probes=p["queries"])
        frame = pd.DataFrame(checks)
        t.extra.update(timings, mq_after=variant.server.mq_from_log(), checks_passed=int(frame["passed"].sum()),
                       checks=len(frame), raw_file=session.write_raw(f"checks-flush-{flush}", frame.astype(str),
                                                                     flush=flush, migration=label))
    session.close_variants()
    return frame
