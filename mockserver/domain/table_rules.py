"""Rules named by the endpoint table: a row names one of a family and gives its parameters."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

Rule = TypeVar("Rule")


def build_rule(
    raw: Mapping[str, Any],
    *,
    key: str,
    family: Mapping[str, Callable[..., Rule]],
    kind: str,
    read: Mapping[str, Callable[[Any], Any]] | None = None,
) -> Rule:
    """The rule ``raw[key]`` names, with the row's other values as its parameters.

    A parameter named in ``read`` is read by its function; the others are frozen (TOML
    arrays as tuples, hashable like the rest of a frozen rule). ``KeyError`` for a name
    the family does not know.
    """
    params = dict(raw)
    name = params.pop(key)
    if name not in family:
        raise KeyError(f"unknown {kind} {name!r}; known: {', '.join(family)}")
    readers = read or {}
    return family[name](
        **{field: readers.get(field, _freeze)(value) for field, value in params.items()}
    )


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(item) for item in value)
    if isinstance(value, dict):
        return {key: _freeze(item) for key, item in value.items()}
    return value
