"""pyproject.toml and environment.yml list the same dependencies; notebooks are clean and literal."""
import ast
import json
import re
import tomllib
from pathlib import Path

import papermill as pm
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _requirement_names(lines) -> set:
    return {re.split(r"[<>=!~\[ ;]", line.strip(), maxsplit=1)[0].lower().replace("_", "-")
            for line in lines if line.strip() and not line.strip().startswith(("#", "-"))}


def test_lock_pins_every_dependency_and_environment_yml_installs_the_lock():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _requirement_names(project["dependencies"] + project["optional-dependencies"]["test"])
    lock = (ROOT / "requirements.lock").read_text().splitlines()
    pinned = [line for line in lock if line and not line.startswith(("#", " "))]
    assert all("==" in line for line in pinned), [line for line in pinned if "==" not in line]
    assert wanted <= _requirement_names(pinned), wanted - _requirement_names(pinned)
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip == ["-r requirements.lock", "--no-deps -e ."]
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet -r $(LOCK)" in makefile and "LOCK   := requirements.lock" in makefile


def test_pymilvus_is_pinned_to_the_range_the_client_adapter_was_tested_with():
    from mqbench.milvus import client

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(dep.startswith("pymilvus" + client.TESTED_PYMILVUS) for dep in project["dependencies"])


def test_there_are_notebooks():
    assert {p.stem for p in NOTEBOOKS} >= {"search_query", "report", "compare", "explore"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_one_parameters_cell_of_literals_that_papermill_reads(path):
    nb = json.loads(path.read_text())
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    tree = ast.parse("".join(tagged[0]["source"]))
    names = []
    for stmt in tree.body:
        assert isinstance(stmt, ast.Assign) and len(stmt.targets) == 1, ast.unparse(stmt)
        ast.literal_eval(stmt.value)  # raises on anything but a literal
        names.append(stmt.targets[0].id)
    assert sorted(pm.inspect_notebook(str(path))) == sorted(names)
    assert "run_dir" in names or path.stem in ("compare", "explore")  # analysis notebooks record no run
