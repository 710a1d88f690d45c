"""What each study adds to the registries below it, declared in its own module (``mqbench.studies.<name>``):
its columns and their comparison rules, the keys its blocks are compared by, the questions it answers and its
sections of the report page. A new study is then its notebook, its study module, a grid and a test.

A study module calls :func:`declare` when imported. The readers (the Findings, the decision table, the report,
``mqbench docs``) ask :func:`declared`, which imports every module of ``mqbench.studies`` first: the registry
lives here, at the bottom, and is filled from the top, the way a plugin registry is.
"""
from __future__ import annotations

import dataclasses
import functools
import importlib
import pkgutil
from dataclasses import dataclass

from mqbench.core import schema
from mqbench.core.errors import MqbenchError


@dataclass(frozen=True)
class Study:
    """A study's declarations. ``name``: its notebook (``notebooks/<name>.ipynb``) and the rows' ``notebook``.
    ``compare``: the keys that group its block rows into comparisons (empty: its blocks are not compared).
    ``judges``: registered columns its comparisons read besides those whose rule names it already.
    ``columns``: the columns its rows add (:class:`mqbench.core.schema.Column`; a judged one carries its
    :class:`mqbench.core.schema.Judged` rule, where ``at`` may leave out the study itself).
    ``questions``: its lines of the decision table (:class:`mqbench.stats.answers.Question`).
    ``sections``: its parts of the report page (:class:`mqbench.core.page.Section`), after the built-in ones."""
    name: str
    compare: tuple[str, ...] = ()
    judges: tuple[str, ...] = ()
    columns: tuple = ()
    questions: tuple = ()
    sections: tuple = ()


STUDIES: dict[str, Study] = {}


def declare(study: Study) -> Study:
    """Register ``study``: its columns (a name registered otherwise is refused) and its judged ones' rules."""
    if study.name in STUDIES:
        if STUDIES[study.name] == study:
            return STUDIES[study.name]  # its module imported again
        raise MqbenchError(f"study {study.name!r} is declared twice, differently")
    for column in study.columns:
        if column.name in schema.COLUMNS and schema.COLUMNS[column.name] != column:
            raise MqbenchError(f"study {study.name!r}: column {column.name!r} is registered already, differently")
        schema.COLUMNS[column.name] = column
    judged = [*study.judges, *(c.name for c in study.columns if c.judged is not None)]
    for name in judged:
        if name not in schema.COLUMNS:
            raise MqbenchError(f"study {study.name!r} judges {name!r}, which is not a registered column")
        rule = schema.COLUMNS[name].judged or schema.Judged(())
        if study.name not in rule.at:
            rule = dataclasses.replace(rule, at=(*rule.at, study.name))
        schema.JUDGED[name] = rule
        schema.COLUMNS[name] = dataclasses.replace(schema.COLUMNS[name], judged=rule)
    STUDIES[study.name] = study
    return study


def declared() -> dict[str, Study]:
    """Every study, by name (sorted), each module of ``mqbench.studies`` imported first."""
    _import_studies()
    return dict(sorted(STUDIES.items()))


@functools.cache
def _import_studies() -> None:
    """Import every module of ``mqbench.studies`` (once per process: each declares itself)."""
    package = importlib.import_module("mqbench.studies")
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
