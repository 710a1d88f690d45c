"""Parameter checks shared by the notebooks' ``check(params)``, and the type every parameter has (its literal in
the notebook's ``parameters`` cell): each raises a ParameterError naming the parameter and the value."""
from __future__ import annotations

from mqbench.core.errors import ParameterError


def positive_number(name: str, value, allow_zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (value == 0 and not allow_zero):
        raise ParameterError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} number, got {value!r}")


def int_list(name: str, values, allow_empty: bool = False, minimum: int = 1) -> None:
    if not isinstance(values, list) or (not values and not allow_empty):
        raise ParameterError(f"{name} must be a {'' if allow_empty else 'non-empty '}list, got {values!r}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            raise ParameterError(f"{name} entries must be integers >= {minimum}, got {v!r}")


def integer(name: str, value, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}, got {value!r}")


def one_of(name: str, value, choices) -> None:
    if value not in choices:
        raise ParameterError(f"{name} {value!r} is not one of {', '.join(map(str, choices))}")


def subset(name: str, values, choices) -> None:
    bad = [v for v in values if v not in choices] if isinstance(values, list) else values
    if bad or not isinstance(values, list):
        raise ParameterError(f"{name} entries must be among {', '.join(map(str, choices))}; bad: {bad!r}")


_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string", list: "a list",
               dict: "a mapping"}


def typed(defaults: dict, given: dict) -> None:
    """Each of ``given``'s values has the type of its default in ``defaults`` (the notebook's literals): a number
    parameter takes an integer too; a number or an integer never takes true or false."""
    for name, value in given.items():
        if name not in defaults:
            continue
        kind = type(defaults[name])
        allowed = (int, float) if kind is float else kind
        if not isinstance(value, allowed) or (isinstance(value, bool) and kind is not bool):
            raise ParameterError(f"{name} must be {_TYPE_NAMES.get(kind, kind.__name__)} (its default is "
                                 f"{defaults[name]!r}), got {value!r}")
