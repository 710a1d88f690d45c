"""A notebook's ``parameters`` cell read without running it: each name and its literal (the default). The
runner checks a grid's values against it; a session reads its notebook's values by its names."""
from __future__ import annotations

import ast
import json
from pathlib import Path

from mqbench.core.errors import GridError


def defaults(notebook: Path) -> dict:
    """Name -> value of the notebook's ``parameters`` cell (literals, as the cell must hold); {} without one."""
    if not Path(notebook).exists():
        raise GridError(f"notebook {notebook} does not exist")
    cells = json.loads(Path(notebook).read_text())["cells"]
    cell = next((c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if cell is None:
        return {}
    return {stmt.targets[0].id: ast.literal_eval(stmt.value) for stmt in ast.parse("".join(cell["source"])).body}
