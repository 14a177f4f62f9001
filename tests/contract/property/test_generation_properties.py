"""The response generator on schemas beyond BFL's: every value it draws is valid."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given

from contracts import from_schema, load_contract

CONTRACT = load_contract()

SCHEMAS: list[Any] = [
    True,
    {},
    {"const": "fixed"},
    {"enum": ["a", 1, None]},
    {"type": ["string", "integer"]},
    {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10},
    {"type": "integer", "minimum": -64, "maximum": 64, "multipleOf": 32},
    {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
    {"type": "number", "multipleOf": 0.5, "maximum": 10},
    {"type": "string", "minLength": 3, "maxLength": 5},
    {"type": "string", "pattern": "^[a-f0-9]{8}$"},
    {"type": "string", "format": "uuid"},
    {"type": "string", "format": "date-time"},
    {"type": "string", "format": "uri", "maxLength": 40},
    {"type": "string", "format": "email"},
    {"type": "array", "items": {"type": "boolean"}, "minItems": 1, "maxItems": 2},
    {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"],
     "additionalProperties": False},
    {"type": "object", "additionalProperties": {"type": "string"}},
    {"properties": {"n": {"anyOf": [{"type": "integer"}, {"type": "null"}]}}},
    {"allOf": [{"type": "integer"}, {"minimum": 5}]},
    {"type": "integer", "not": {"const": 3}},
    {"$ref": "#/components/schemas/ResultResponse"},
]  # fmt: skip


@pytest.mark.parametrize("schema", SCHEMAS, ids=repr)
def test_every_drawn_value_is_valid(schema: Any) -> None:
    @given(from_schema(schema))
    def check(value: Any) -> None:
        assert CONTRACT.errors(value, schema if isinstance(schema, dict) else {}) == ()

    check()
