"""migration.ipynb on 20,000 rows: the seed's procedure passes every check; skipping the flush is reported."""
import pandas as pd
import pytest
from mqbench.report import tables


@pytest.fixture(scope="module")
def migration_run(tmp_path_factory, run_mqbench):
    return run_mqbench(tmp_path_factory.mktemp("runs") / "migration", "notebooks/migration.ipynb", "-p", "n",
                       "20000", "-p", "dim", "8", "-p", "server_overrides", '{"common.session.ttl": 10}')


def test_flushed_migration_passes_every_check(migration_run):
    s = pd.read_parquet(migration_run / "summary.parquet")
    checks = tables.migration(migration_run, s)
    flushed = checks[checks["flush"] == True]  # noqa: E712 - a column of booleans
    assert len(flushed) == 6 and (flushed["result"] == "✓").all(), flushed
    assert flushed.loc[flushed["check"] == "row count", "after"].iloc[0] == "20000"
    migrate = s[(s["op"] == "migration") & (s["phase"] == "migrate") & (s["flush"] == True)]  # noqa: E712
    assert migrate["mq_after"].iloc[0] == "natsmq" and migrate["backup"].iloc[0].startswith("backup/rocksmq-")
    assert migrate["checks_passed"].iloc[0] == migrate["checks"].iloc[0] == 6


def test_unflushed_case_is_reported_whatever_happens(migration_run):
    s = pd.read_parquet(migration_run / "summary.parquet")
    checks = tables.migration(migration_run, s)
    unflushed = checks[checks["flush"] == False]  # noqa: E712
    assert len(unflushed) == 6 and set(unflushed["result"]) <= {"✓", "✗"}
    assert "Migration between MQs" in (migration_run / "report.html").read_text()
