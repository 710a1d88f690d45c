"""The layers of docs/architecture.md hold in the code: import-linter's contract in pyproject.toml passes, and it
does catch an import against the declared direction (checked on a copy of the package)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(package_parent: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run([str(LINT), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_no_import_runs_against_the_layers():
    done = _lint(ROOT / "lib", ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_an_upward_import_breaks_the_contract(tmp_path):
    shutil.copytree(ROOT / "lib" / "mqbench", tmp_path / "lib" / "mqbench",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    schema = tmp_path / "lib" / "mqbench" / "core" / "schema.py"
    schema.write_text(schema.read_text() + "\nfrom mqbench.report import tables  # noqa: E402\n")
    done = _lint(tmp_path / "lib", tmp_path)
    assert done.returncode != 0
    assert "mqbench.core.schema -> mqbench.report.tables" in done.stdout
