"""Runs describe themselves: a published run's report rebuilds unchanged after a parameter is renamed in its
notebook. On a copy of the project (its ``lib`` first on the path, so the page's kernel reads the copy's
notebooks), the report of a copied reference run is built, ``search_query``'s ``start_pairs`` renamed, and
the report built again."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SKIP = shutil.ignore_patterns("__pycache__", "*.egg-info")


def _build(project: Path, run: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(project / "lib")}
    code = "import sys; from mqbench.run import render; print(render.build(sys.argv[1]))"
    done = subprocess.run([sys.executable, "-c", code, str(run)], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return (run / "report.html").read_text()


def test_a_renamed_parameter_leaves_a_published_report_unchanged(tmp_path):
    project = tmp_path / "project"
    for folder in ("lib", "notebooks", "data"):
        shutil.copytree(ROOT / folder, project / folder, ignore=SKIP)
    reference = yaml.safe_load((ROOT / "reports" / "roles.yaml").read_text())["reference-1"]
    run = tmp_path / reference
    run.mkdir()
    for name in ("manifest.json", "summary.parquet"):
        shutil.copy2(ROOT / "reports" / reference / name, run / name)
    before = _build(project, run)
    notebook = project / "notebooks" / "search_query.ipynb"
    text = notebook.read_text()
    assert '"start_pairs = ' in text
    notebook.write_text(text.replace("start_pairs", "start_pair_count"))
    after = _build(project, run)
    assert "start_pairs" in before and before == after
