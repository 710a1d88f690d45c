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
    (["run", "search_query", "-p", "n", "many"], "search_query.ipynb: n must be an integer (its default is 20000), "
                                                 "got 'many'"),
    (["run", "search_query", "-p", "blocks", "true"], "blocks must be an integer (its default is 2), got True"),
    (["run", "pubsub", "-p", "shapes", "1KB*5"], "shapes must be a list (its default is ['5MB*100'"),
    (["run", "freshness_recovery", "-p", "growth_rows", "1e5"], "growth_rows must be an integer"),
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


def test_a_bad_value_anywhere_in_a_grid_fails_before_the_run_folder(tmp_path, capsys, live_pids):
    """Every cell's parameters pass its study's check before anything starts: the last cell's bad value exits 2
    naming the cell, and no run folder is made."""
    before = live_pids()
    grid = tmp_path / "g.yaml"
    grid.write_text("notebooks:\n  - notebook: notebooks/scale_curve.ipynb\n    parameters: {sizes: [1000]}\n"
                    "  - notebook: notebooks/search_query.ipynb\n    parameters: {n: -5}\n")
    assert cli.main(["run", "--grid", str(grid), "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mqbench: error: search_query") and "n must be an integer >= 0, got -5" in err
    assert not (tmp_path / "run").exists() and live_pids() == before


def test_dry_run_lists_the_cells_and_starts_nothing(tmp_path, capsys, live_pids):
    before = live_pids()
    assert cli.main(["run", "--grid", str(ROOT / "data/grids/default.yaml"), "--dry-run",
                     "--run-dir", str(tmp_path / "run")]) == 0
    out = capsys.readouterr()
    assert "scale_curve rocksmq r4" in out.out and "nothing started" in out.err
    assert not (tmp_path / "run").exists() and live_pids() == before


def test_a_notebook_is_found_by_name_under_notebooks(capsys):
    assert cli.main(["run", "search_query", "-p", "n", "100", "--dry-run"]) == 0
    assert "search_query.ipynb" in capsys.readouterr().out


def test_a_number_parameter_takes_an_integer(capsys):
    """Parameters are typed by their notebook's literals; a number (``target_recall = 0.0``) takes ``1`` too."""
    assert cli.main(["run", "search_query", "-p", "target_recall", "1", "--dry-run"]) == 0


def test_run_help_describes_and_gives_examples(capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    text = capsys.readouterr().out
    assert "every parameter of every cell is checked" in text.lower() and "examples:" in text and "--dry-run" in text
