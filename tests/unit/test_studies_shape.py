"""Studies of one shape: each declared study (the built-in ones are the ``Notebook`` members) has a study module
of its name with ``NOTEBOOK``, its declaration ``STUDY``, ``check(params)`` and its ``STEPS``, and the notebook opens its session by the study's name, checks its
parameters first and calls exactly those steps."""
import importlib
import inspect
import json
from pathlib import Path

import pytest
from mqbench.core import studies
from mqbench.core.schema import Notebook

ROOT = Path(__file__).resolve().parents[2]


def test_every_notebook_member_is_a_declared_study():
    assert set(Notebook) <= set(studies.declared())


@pytest.mark.parametrize("notebook", list(studies.declared()), ids=str)
def test_a_study_per_notebook_with_one_interface(notebook):
    study = importlib.import_module(f"mqbench.studies.{notebook}")
    assert study.NOTEBOOK == notebook and study.STUDY is studies.declared()[notebook]
    assert list(inspect.signature(study.check).parameters) == ["p"]
    assert all(inspect.isfunction(getattr(study, step)) for step in study.STEPS)
    cells = json.loads((ROOT / "notebooks" / f"{notebook}.ipynb").read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert "Session.open(study.NOTEBOOK, globals())" in code
    assert code.index("study.check(session.params)") < min(code.index(f"study.{s}(") for s in study.STEPS)
    called = {name for name in study.__dict__ if f"study.{name}(" in code} - {"check"}
    assert called == set(study.STEPS)
