from pathlib import Path

import pytest
import yaml
from mqbench.run import runner

ROOT = Path(__file__).resolve().parents[2]
NB = ROOT / "notebooks" / "search_query.ipynb"


def test_default_grid_compares_both_mqs_side_by_side():
    grid, cells = runner.load_grid(ROOT / "data" / "grids" / "default.yaml")
    assert {c.name for c in cells} == {"search_query", "scale_curve", "pubsub"}  # the tick: on every start pair
    assert all(c.params["variants"] == ["rocksmq", "natsmq"] for c in cells if c.name != "scale_curve")
    builds = [c for c in cells if c.name == "scale_curve"]  # the write path: 5 builds per MQ, the build the unit
    assert sorted(c.params["mq"] for c in builds) == ["natsmq"] * 5 + ["rocksmq"] * 5
    assert {c.params["load_method"] for c in builds} == {"prepared"} and builds[0].params["dim"] >= 384
    (search,) = [c for c in cells if c.name == "search_query"]
    assert search.params["start_pairs"] >= 5 and search.params["tick_samples"] > 0  # verdicts over start pairs
    assert len({c.executed_name for c in cells}) == len(cells)
    aa_grid, aa = runner.load_grid(ROOT / "data" / "grids" / "aa.yaml")
    assert all(c.params["variants"] == ["rocksmq", "rocksmq"] for c in aa if c.name != "scale_curve")
    assert sorted(c.params["label"] for c in aa if c.name == "scale_curve") == ["rocksmq-1"] * 5 + ["rocksmq-2"] * 5


def test_unknown_parameter_is_an_error_naming_it():
    with pytest.raises(runner.GridError, match="no parameter 'bogus'"):
        runner.single_cell(NB, {"bogus": 1})


def test_grid_naming_missing_notebook_or_parameter(tmp_path):
    bad_nb = {"notebooks": [{"notebook": "notebooks/nope.ipynb"}]}
    with pytest.raises(runner.GridError, match="nope.ipynb does not exist"):
        runner.expand_grid(bad_nb, ROOT)
    bad_param = {"notebooks": [{"notebook": "notebooks/search_query.ipynb", "grid": {"colour": ["red"]}}]}
    with pytest.raises(runner.GridError, match="no parameter 'colour'"):
        runner.expand_grid(bad_param, ROOT)
    with pytest.raises(runner.GridError, match="repeats"):
        runner.expand_grid({"repeats": 0, "notebooks": [{"notebook": "notebooks/search_query.ipynb"}]}, ROOT)
    with pytest.raises(runner.GridError, match="non-empty list"):
        runner.expand_grid({"notebooks": [{"notebook": "notebooks/scale_curve.ipynb", "grid": {"mq": []}}]}, ROOT)
    with pytest.raises(runner.GridError, match="unknown key"):
        runner.expand_grid({"seed": 1, "notebooks": []}, ROOT)
    with pytest.raises(runner.GridError, match="does not exist"):
        runner.load_grid(tmp_path / "missing.yaml")


def test_cli_params_are_yaml_typed():
    assert runner.parse_cli_params([["n", "20000"], ["concurrency_levels", "[1, 2]"], ["variants", "[natsmq]"]]) == {
        "n": 20000, "concurrency_levels": [1, 2], "variants": ["natsmq"]}


def test_every_grid_file_is_valid():
    for path in (ROOT / "data" / "grids").glob("*.yaml"):
        yaml.safe_load(path.read_text())
        runner.load_grid(path)
