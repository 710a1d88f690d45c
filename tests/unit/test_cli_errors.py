"""Bad input: one clear line naming the culprit, exit code 2, nothing started."""
from pathlib import Path

import pytest
from mqbench import cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("argv, culprit", [
    (["server", "--mq", "kafka"], "unknown mq 'kafka'"),
    (["server", "--mq", "natsmq", "-o", "natsmq.server.port"], "'natsmq.server.port' is not of the form a.b.c=value"),
    (["run", str(ROOT / "notebooks/search_query.ipynb"), "-p", "colour", "red"], "no parameter 'colour'"),
    (["run", str(ROOT / "notebooks/missing.ipynb")], "missing.ipynb does not exist"),
    (["run", str(ROOT / "notebooks/search_query.ipynb"), "-p", "run_dir", "/x"], "run_dir is set by mqbench run"),
    (["run"], "exactly one of: a notebook, --grid FILE, --resume RUN_DIR"),
    (["run", "--resume", "/nonexistent/run"], "not a run folder"),
    (["report", "/nonexistent/run"], "not a run folder"),
])
def test_bad_input_is_one_line_naming_it(argv, culprit, capsys, live_pids):
    before = live_pids()
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mqbench: error: ") and culprit in err and "\n" not in err
    assert live_pids() == before


def test_existing_run_folder_is_refused(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    argv = ["run", str(ROOT / "notebooks/search_query.ipynb"), "--run-dir", str(tmp_path / "run")]
    assert cli.main(argv) == 2
    assert "already exists" in capsys.readouterr().err


def test_grid_naming_a_missing_parameter(tmp_path, capsys):
    grid = tmp_path / "g.yaml"
    grid.write_text("notebooks:\n  - notebook: notebooks/search_query.ipynb\n    parameters: {colour: red}\n")
    assert cli.main(["run", "--grid", str(grid)]) == 2
    assert "no parameter 'colour'" in capsys.readouterr().err


def test_migrate_refuses_foreign_folders_and_same_mq(tmp_path, capsys):
    assert cli.main(["migrate", str(tmp_path), "--to", "natsmq"]) == 2
    assert "is not a Milvus folder that mqbench started" in capsys.readouterr().err
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "milvus.yaml").write_text("mq:\n  type: rocksmq\n")
    assert cli.main(["migrate", str(tmp_path), "--to", "rocksmq"]) == 2
    assert "already uses rocksmq; choose the other MQ" in capsys.readouterr().err
