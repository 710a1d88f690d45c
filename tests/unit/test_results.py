import datetime as dt
import json

import pandas as pd
import pytest
from mqbench.core import results


def test_run_id_is_utc_timestamp_and_sha():
    run_id = results.new_run_id(dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.timezone.utc))
    assert run_id.startswith("20260102T030405.678Z-")


def test_run_dir_never_overwritten(tmp_path):
    run = results.create_run_dir(tmp_path / "r")
    assert {p.name for p in run.iterdir()} == {"executed", "raw", "parts"}
    with pytest.raises(results.RunDirError, match="already exists"):
        results.create_run_dir(tmp_path / "r")
    with pytest.raises(results.RunDirError, match="not a run folder"):
        results.open_run_dir(tmp_path / "r")


def test_manifest_records_versions_and_host(tmp_path):
    run = results.create_run_dir(tmp_path / "r")
    results.write_manifest(run, mode="test", parameters={"n": 1})
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["versions"]["milvus"] == "2.3.5"
    assert manifest["versions"]["pymilvus"] and manifest["versions"]["python"]
    assert manifest["host"]["logical_cores"] >= 1 and manifest["host"]["ram_gb"] > 0
    assert manifest["git_sha"] and manifest["parameters"] == {"n": 1}


def test_consolidate_concatenates_parts_atomically(tmp_path):
    run = results.create_run_dir(tmp_path / "r")
    results.atomic_write_parquet(pd.DataFrame({"mq": ["rocksmq"], "rps": [1.0]}), run / "parts" / "a.parquet")
    results.atomic_write_parquet(pd.DataFrame({"mq": ["natsmq"], "rps": [2.0]}), run / "parts" / "b.parquet")
    summary = results.consolidate(run)
    assert sorted(summary["mq"]) == ["natsmq", "rocksmq"]
    assert not list(run.glob("**/*.tmp"))


def test_cell_tag_is_short_stable_and_distinct():
    a = results.cell_tag("nb", {"mq": "natsmq", "repeat": 0, "n": 10, "levels": [1, 2]})
    b = results.cell_tag("nb", {"mq": "natsmq", "repeat": 0, "n": 11, "levels": [1, 2]})
    assert a.startswith("nb__mq=natsmq_repeat=0__") and a != b
    assert a == results.cell_tag("nb", {"levels": [1, 2], "n": 10, "repeat": 0, "mq": "natsmq"})
