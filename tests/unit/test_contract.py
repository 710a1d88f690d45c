"""The typed contract between notebooks and their readers: no reader compares a column against a string literal
(rows are selected by ``mqbench.core.results.rows`` with the ``StrEnum`` members of ``mqbench.core.schema``), and
the session refuses a column that is neither registered nor a declared parameter."""
import ast
import json
from pathlib import Path

import pandas as pd
import pytest
from mqbench.core import results, schema
from mqbench.core.schema import Op, Phase, Status

ROOT = Path(__file__).resolve().parents[2]
READERS = sorted((ROOT / "lib/mqbench").rglob("*.py"))  # every module of lib/, not only the readers
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


CONTRACT = {c.name for c in schema.COLUMNS.values() if c.kind != "measured"} | {"verdict", "verdict_1", "verdict_2"}


def _is_column(node) -> bool:
    """``x["col"]``, ``x.get("col")`` or an attribute ``x.col`` for a key or parameter column of the registry, or
    a verdict (optionally followed by ``.astype(...)``/``.str``)."""
    if isinstance(node, ast.Attribute) and node.attr in CONTRACT:
        return True
    while isinstance(node, ast.Attribute) or (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                                              and node.func.attr in ("astype", "fillna")):
        node = node.value if isinstance(node, ast.Attribute) else node.func.value
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value in CONTRACT
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
            and node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value in CONTRACT)


def _strings(node) -> bool:
    """A non-empty string literal, or a collection holding one."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and node.value != ""
    return isinstance(node, (ast.List, ast.Tuple, ast.Set)) and any(_strings(e) for e in node.elts)


def literal_comparisons(source: str) -> list[str]:
    """Where a column is compared against a string literal in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_is_column(s) for s in sides) and any(_strings(s) for s in sides):
                found.append(ast.unparse(node))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("eq", "ne", "isin", "startswith") and _is_column(node.func.value) \
                    and any(_strings(a) for a in node.args):
                found.append(ast.unparse(node))
            if node.func.attr == "rows" and any(_strings(k.value) for k in node.keywords):
                found.append(ast.unparse(node))
    return found


def _notebook_code(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code"
                     and not "".join(c["source"]).lstrip().startswith(("%", "!")))


@pytest.mark.parametrize("path", READERS + NOTEBOOKS, ids=lambda p: p.name)
def test_no_reader_compares_a_column_against_a_string_literal(path):
    source = _notebook_code(path) if path.suffix == ".ipynb" else path.read_text()
    assert literal_comparisons(source) == []


def test_the_checker_sees_the_three_styles():
    assert len(literal_comparisons('a = s[s["op"] == "search"]\nb = s["phase"].isin(["serial"])\n'
                                   'c = results.rows(s, op="search")')) == 3
    assert literal_comparisons("a = s[s['op'] == Op.SEARCH]\nb = results.rows(s, op=Op.SEARCH)") == []
    assert literal_comparisons('if v.mq == "rocksmq": pass') == ['v.mq == \'rocksmq\'']
    assert literal_comparisons("if v.mq == MQ.ROCKSMQ: pass") == []


def test_the_row_selector():
    s = pd.DataFrame({"op": ["search", "query", "search"], "phase": ["serial", "serial", "concurrent"],
                      "status": ["ok", "ok", "failed"]})
    assert list(results.rows(s, op=Op.SEARCH).index) == [0]
    assert list(results.rows(s, ok=False, op=Op.SEARCH).index) == [0, 2]
    assert list(results.rows(s, phase=[Phase.SERIAL, Phase.CONCURRENT], op=None).index) == [0, 1]
    assert results.rows(s, sweep="blocks").empty  # a column the summary lacks selects nothing
    assert Status.OK == "ok" and str(Op.SEARCH) == "search"


def test_every_registered_metric_has_a_direction_and_every_column_a_kind():
    for column in schema.COLUMNS.values():
        assert column.kind in ("key", "parameter", "measured"), column
        assert column.better in ("", "lower", "higher"), column
