"""Dotted ``milvus.yaml`` overrides: ``a.b.c=value`` strings and nested dicts."""
from __future__ import annotations

import re
from typing import Any

import yaml

from mqbench.core.errors import OverrideError

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")




def parse_override(text: str) -> tuple[str, Any]:
    """Split ``a.b.c=value`` into its dotted key and a YAML-typed value."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not _KEY.match(key):
        raise OverrideError(f"override {text!r} is not of the form a.b.c=value")
    return key, yaml.safe_load(raw) if raw.strip() else None


def parse_overrides(items: list[str] | dict[str, Any] | None) -> dict[str, Any]:
    """Accept a list of ``a.b.c=value`` strings or a dict of dotted keys."""
    if not items:
        return {}
    if isinstance(items, dict):
        for key in items:
            if not _KEY.match(str(key)):
                raise OverrideError(f"override key {key!r} is not a dotted key like a.b.c")
        return dict(items)
    return dict(parse_override(item) for item in items)


def set_dotted(tree: dict, key: str, value: Any) -> None:
    """Set ``tree['a']['b']['c'] = value`` for key ``a.b.c``, creating levels."""
    *parents, leaf = key.split(".")
    node = tree
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[leaf] = value


def get_dotted(tree: dict, key: str, default: Any = None) -> Any:
    """Read ``a.b.c`` from a nested dict."""
    node: Any = tree
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node
