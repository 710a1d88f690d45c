"""A run describes itself: its manifest records its notebooks' declared parameters, and its report groups by them
even after a parameter is renamed in today's notebook."""
import json

import pandas as pd
from mqbench.core import results
from mqbench.report import tables
from mqbench.run import runner


def test_grouping_keys_come_from_the_runs_manifest_not_todays_notebooks(tmp_path, monkeypatch):
    rows = [dict(notebook="search_query", status="ok", op="insert", phase="load", variant=v, mq=v, ef_build=e,
                 duration_s=1.0) for v in ("rocksmq", "natsmq") for e in (64, 128)]
    pd.DataFrame(rows).to_parquet(tmp_path / "summary.parquet")
    (tmp_path / "manifest.json").write_text(json.dumps({"run_id": "r", "declared_parameters": {
        "search_query": {"ef_build": 128, "variants": ["rocksmq", "natsmq"]}}}))
    summary = results.load_summary(tmp_path)
    assert tables.configuration(summary) == ["ef_build"]
    renamed = {"efConstruction": 128, "variants": []}  # the parameter as today's notebook would call it
    monkeypatch.setattr(runner, "declared_parameters", lambda notebook: renamed)
    assert tables.configuration(summary) == ["ef_build"]
    assert "ef_build" in tables.load_phases(summary)
