"""``when`` clauses of the endpoint table: which requests a price case or a check applies to."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any


@dataclasses.dataclass(frozen=True, slots=True)
class When:
    """Field values a validated body must have, all of them (empty: every body)."""

    conditions: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> When:
        return cls(tuple(raw.items()))

    def describe(self) -> str:
        return ", ".join(f"{field}={_show(value)}" for field, value in self.conditions)

    def matches(self, body: Mapping[str, Any]) -> bool:
        if not self.conditions:  # most clauses: checked on every submit
            return True
        return all(_same(body.get(field), value) for field, value in self.conditions)


def _same(actual: Any, expected: Any) -> bool:
    # True == 1 in Python; a request's `draft: true` must not match `creativity = 1`.
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual is expected
    return bool(actual == expected)


def _show(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
