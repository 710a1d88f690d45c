"""`mqbench compare` on the published runs: every metric both runs recorded gets the contender's value and a ratio
(rows with missing keys match; single-MQ runs pair), caveats are honest, and the CLI can gate on a regression."""
import numpy as np
import pandas as pd
import pytest
from conftest import mqbench
from mqbench.report import compare, statements

REPORTS = statements.REPORTS


def _shared(a: pd.DataFrame, b: pd.DataFrame, keys: list[str]) -> int:
    """(key, metric) pairs with a value in both runs, counted without compare's own matching."""
    def long(s):
        s = compare._per_unit(s, keys)
        m = s.melt(id_vars=keys, value_vars=[c for c in compare.METRICS if c in s]).dropna(subset=["value"])
        return m[keys + ["variable"]].drop_duplicates()
    return len(long(a).merge(long(b), on=keys + ["variable"]))


def _single_mq_runs(folder) -> list:
    """Reference run 1 split by variant into two single-MQ runs (rocksmq, natsmq), as two one-MQ grids make."""
    import shutil

    source = REPORTS / statements.roles()["reference-1"]
    summary = pd.read_parquet(source / "summary.parquet")
    runs = []
    for mq in ("rocksmq", "natsmq"):
        run = folder / f"{mq}-only"
        run.mkdir()
        shutil.copy2(source / "manifest.json", run / "manifest.json")
        summary[summary["variant"] == mq].to_parquet(run / "summary.parquet")
        runs.append(run)
    return runs


@pytest.mark.parametrize("pair", [("reference-1", "reference-2"), "single-mq"])
def test_every_shared_metric_gets_a_contender_value_and_a_ratio(pair, tmp_path):
    roles = statements.roles()
    runs = _single_mq_runs(tmp_path) if pair == "single-mq" else [REPORTS / roles[r] for r in pair]
    table, caveats = compare.compare_runs(runs)
    names = [r.name for r in runs]
    ratio = f"{names[1]} ÷ {names[0]}"
    got = compare.compared(table, names)
    raw = [compare.load_summary(r) for r in runs]
    keys = [k for k in compare.KEYS if not (compare.single_variants(raw) and k == "variant")]
    assert len(got) == _shared(*raw, keys) > 0
    assert got[names[1]].notna().all() and got[ratio].notna().all()
    positive = (got[names[0]] > 0) & (got[names[1]] > 0)
    assert np.allclose(got.loc[positive, ratio], got.loc[positive, names[1]] / got.loc[positive, names[0]])
    if compare.single_variants(raw):
        assert any("paired" in c for c in caveats)


def test_a_dirty_tree_is_a_caveat(tmp_path):
    import json
    import shutil

    roles = statements.roles()
    for i, role in enumerate(("reference-1", "reference-2")):
        shutil.copytree(REPORTS / roles[role], tmp_path / f"r{i}")
    manifest = tmp_path / "r1" / "manifest.json"
    m = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**m, "git_sha": "abc1234-dirty"}))
    _, caveats = compare.compare_runs([tmp_path / "r0", tmp_path / "r1"])
    assert any("uncommitted" in c and "r1" in c for c in caveats)


def test_the_cli_writes_markdown_and_gates_on_a_regression(tmp_path):
    a, b = (str(run) for run in _single_mq_runs(tmp_path))
    proc = mqbench("compare", a, b, "--format", "md", "--sort", "ratio", "--out", str(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("compare.md") and "| metric" in (tmp_path / "compare.md").read_text()
    assert "metrics compared" in proc.stderr


def test_the_terminal_summary_sets_the_mq_effect_of_each_run_side_by_side():
    roles = statements.roles()
    runs = [str(REPORTS / roles[r]) for r in ("reference-1", "reference-2")]
    proc = mqbench("compare", *runs, "--only-changed", timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("run A: ") and lines[1].startswith("run B: ")
    assert "A vs B" in lines[2] and any(line.strip().startswith("reads") for line in lines)
    summary = lines[: next(i for i, line in enumerate(lines) if "changed" in line)]
    assert len(summary) <= 15
    assert "warmup" not in proc.stdout and "server_start" not in proc.stdout  # hidden unless --all
