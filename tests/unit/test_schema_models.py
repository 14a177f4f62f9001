"""JSON Schema keywords map to the pydantic types that would have written them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from mockserver.errors import SpecError
from mockserver.spec.models import ModelBuilder
from mockserver.spec.openapi import Spec
from mockserver.spec.reading import parse_spec

from support import ROOT


def spec_with(**schemas: Any) -> Spec:
    document = json.loads((ROOT / "openapi.json").read_text())
    document["components"]["schemas"].update(schemas)
    return parse_spec(json.dumps(document).encode())


def errors(schema: Any, value: Any, **components: Any) -> list[tuple[Any, ...]] | Any:
    adapter = ModelBuilder(spec_with(**components)).adapter(schema, "#/test")
    try:
        return adapter.validate_python(value, from_attributes=True)
    except ValidationError as error:
        return [(e["type"], e["loc"]) for e in error.errors()]


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        ({"type": ["integer", "null"]}, None, None),
        ({"type": ["integer", "null"]}, "x", [("int_parsing", ())]),
        ({"type": "number", "exclusiveMinimum": 0}, 0, [("greater_than", ())]),
        ({"type": "number", "exclusiveMaximum": 1}, 1, [("less_than", ())]),
        ({"type": "string", "pattern": "^a+$"}, "b", [("string_pattern_mismatch", ())]),
        ({"type": "string", "minLength": 2}, "b", [("string_too_short", ())]),
        ({"type": "array", "items": {"type": "integer"}, "maxItems": 1}, [1, 2],
         [("too_long", ())]),
        ({"type": "array", "items": {"type": "integer"}}, [1, "x"], [("int_parsing", (1,))]),
        ({"type": "object", "additionalProperties": {"type": "integer"}}, {"a": "x"},
         [("int_parsing", ("a",))]),
        ({"enum": ["a", "b"]}, "c", [("literal_error", ())]),
        ({"const": 3}, 4, [("literal_error", ())]),
        ({"allOf": [{"type": "boolean"}]}, "nope", [("bool_parsing", ())]),
        ({"anyOf": [{"type": "integer"}, {"type": "string"}]}, 1.5,
         [("int_from_float", ("int",)), ("string_type", ("str",))]),
        ({"type": "string", "format": "date-time"}, "yesterday",
         [("datetime_from_date_parsing", ())]),
        ({"type": "string", "format": "uri"}, "nota url", [("url_parsing", ())]),
        ({"type": "string", "format": "uri", "maxLength": 12}, "http://example.com/long",
         [("url_too_long", ())]),
        ({}, {"anything": [1]}, {"anything": [1]}),
        ({"type": "null"}, 1, [("none_required", ())]),
    ],
)  # fmt: skip
def test_keywords(schema: Any, value: Any, expected: Any) -> None:
    assert errors(schema, value) == expected


def test_objects_become_models_with_required_fields_aliases_and_extra_policy() -> None:
    schema = {
        "type": "object",
        "properties": {
            "Moderation Reasons": {"type": "array", "items": {"type": "string"}},
            "model_name": {"type": "string"},
            "count": {"type": "integer", "default": 2},
        },
        "required": ["model_name"],
        "additionalProperties": False,
    }
    assert errors(schema, {"Moderation Reasons": "x", "extra": 1}) == [
        ("list_type", ("Moderation Reasons",)),
        ("missing", ("model_name",)),
        ("extra_forbidden", ("extra",)),
    ]
    model: Any = errors(schema, {"model_name": "m"})
    assert model.model_dump(by_alias=True) == {
        "Moderation Reasons": None, "model_name": "m", "count": 2,
    }  # fmt: skip


def test_named_enums_become_enum_classes() -> None:
    result = errors({"$ref": "#/components/schemas/Level"}, 4, Level={"enum": [1, 2, 3]})
    assert result == [("enum", ())]
    member: Any = errors({"$ref": "#/components/schemas/Level"}, 2, Level={"enum": [1, 2, 3]})
    assert member.value == 2


def test_named_objects_are_built_once() -> None:
    builder = ModelBuilder(spec_with(Thing={"type": "object", "properties": {"a": {}}}))
    ref = {"$ref": "#/components/schemas/Thing"}
    assert builder.annotation(ref, "#/test") is builder.annotation(ref, "#/test")


def test_recursive_and_impossible_schemas_are_refused() -> None:
    looped = {
        "type": "object",
        "properties": {"child": {"$ref": "#/components/schemas/Node"}},
    }
    builder = ModelBuilder(spec_with(Node=looped))
    with pytest.raises(SpecError, match="refers to itself"):
        builder.annotation({"$ref": "#/components/schemas/Node"}, "#/test")
    with pytest.raises(SpecError, match="unsupported JSON type 'file'"):
        builder.annotation({"type": "file"}, "#/test")
    with pytest.raises(SpecError, match="accepts nothing"):
        builder.annotation(False, "#/test")
