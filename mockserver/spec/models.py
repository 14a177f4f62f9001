"""Build pydantic v2 types from the spec's JSON Schemas, once, at start-up.

The real API is FastAPI on pydantic v2, and its OpenAPI document is what pydantic
wrote for its models. Reading that output back into pydantic types makes the mock
validate as the real server does: the same coercions, check order, error types,
messages and ``ctx``. This module is the one place that maps JSON Schema keywords
to pydantic; it restates no field of any BFL schema.
"""

from __future__ import annotations

import datetime
import enum
import keyword
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import (
    AnyUrl,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    TypeAdapter,
    UrlConstraints,
    create_model,
)

from mockserver.errors import SpecError
from mockserver.spec.openapi import Spec

JsonSchema = Mapping[str, Any]

# JSON Schema keyword -> keyword of pydantic.Field, per JSON type.
_NUMBER_CONSTRAINTS = {
    "multipleOf": "multiple_of",
    "maximum": "le",
    "exclusiveMaximum": "lt",
    "minimum": "ge",
    "exclusiveMinimum": "gt",
}
_STRING_CONSTRAINTS = {"minLength": "min_length", "maxLength": "max_length", "pattern": "pattern"}
_ARRAY_CONSTRAINTS = {"minItems": "min_length", "maxItems": "max_length"}
_OBJECT_CONSTRAINTS = {"minProperties": "min_length", "maxProperties": "max_length"}

# String formats pydantic emits for its own types.
_FORMATS: Mapping[str, Any] = {
    "date-time": datetime.datetime,
    "date": datetime.date,
    "time": datetime.time,
    "duration": datetime.timedelta,
    "uuid": uuid.UUID,
    "binary": bytes,
}
# pydantic URL types, recognised by the exact schema pydantic writes for each.
_URL_TYPES: tuple[Any, ...] = (HttpUrl, AnyUrl)
_URL_KEYWORDS = ("type", "format", "minLength", "maxLength")


class ModelBuilder:
    """Turns schemas of one spec into pydantic annotations, caching named components."""

    def __init__(self, spec: Spec) -> None:
        self._spec = spec
        self._named: dict[str, Any] = {}
        self._url_schemas = [
            (TypeAdapter(url_type).json_schema(), url_type) for url_type in _URL_TYPES
        ]

    def adapter(self, schema: JsonSchema) -> TypeAdapter[Any]:
        """A validator for ``schema`` (a request body or a parameter)."""
        return TypeAdapter(self.annotation(schema))

    def annotation(self, schema: JsonSchema | bool) -> Any:
        if schema is True or schema == {}:
            return Any
        if schema is False:
            raise SpecError("a schema of 'false' accepts nothing and cannot be served")
        assert isinstance(schema, Mapping)
        if "$ref" in schema:
            return self._named_annotation(str(schema["$ref"]))
        if "allOf" in schema and len(schema["allOf"]) == 1:
            return self.annotation(schema["allOf"][0])
        branches = schema.get("anyOf") or schema.get("oneOf")
        if branches is not None:
            return self._union(branches)
        if "const" in schema:
            return Literal[schema["const"]]
        if "enum" in schema:
            return Literal[tuple(schema["enum"])]
        json_type = schema.get("type")
        if isinstance(json_type, list):
            return self._union([{**schema, "type": one} for one in json_type])
        if json_type is None:
            return Any
        build = _TYPE_BUILDERS.get(json_type)
        if build is None:
            raise SpecError(f"unsupported JSON type {json_type!r} in {dict(schema)}")
        return build(self, schema)

    def _union(self, branches: Sequence[JsonSchema]) -> Any:
        nullable = any(branch.get("type") == "null" for branch in branches)
        members = [self.annotation(b) for b in branches if b.get("type") != "null"]
        if not members:
            return type(None)
        inner = members[0] if len(members) == 1 else Union[tuple(members)]  # noqa: UP007
        return Optional[inner] if nullable else inner  # noqa: UP045

    def _named_annotation(self, ref: str) -> Any:
        if ref not in self._named:
            target = self._spec.resolve({"$ref": ref})
            name = str(target.get("title") or ref.rsplit("/", 1)[-1])
            if "enum" in target:
                # pydantic writes Enum classes as named components, Literals inline.
                self._named[ref] = _enum_class(name, target["enum"])
            elif target.get("type") == "object" and "properties" in target:
                self._named[ref] = None  # a placeholder breaks self-reference loops
                self._named[ref] = self.model(name, target)
            else:
                self._named[ref] = self.annotation(target)
        annotation = self._named[ref]
        if annotation is None:
            raise SpecError(f"{ref} refers to itself; recursive schemas are not supported")
        return annotation

    def model(self, name: str, schema: JsonSchema) -> type[BaseModel]:
        required = set(schema.get("required", ()))
        fields: dict[str, Any] = {}
        for index, (prop, prop_schema) in enumerate(schema.get("properties", {}).items()):
            field_name, alias = (prop, None) if _usable_name(prop) else (f"field_{index}", prop)
            default = ... if prop in required else prop_schema.get("default")
            fields[field_name] = (
                self.annotation(prop_schema),
                Field(default=default, alias=alias),
            )
        config = ConfigDict(
            extra="forbid" if schema.get("additionalProperties") is False else "ignore"
        )
        return create_model(_identifier(name), __config__=config, **fields)

    def _string(self, schema: JsonSchema) -> Any:
        if schema.get("format") == "uri":
            return self._url(schema)
        base = _FORMATS.get(str(schema.get("format")), str)
        return _constrained(base, schema, _STRING_CONSTRAINTS)

    def _url(self, schema: JsonSchema) -> Any:
        wanted = {key: schema[key] for key in _URL_KEYWORDS if key in schema}
        for url_schema, url_type in self._url_schemas:
            if url_schema == wanted:
                return url_type
        return Annotated[AnyUrl, UrlConstraints(max_length=schema.get("maxLength"))]

    def _array(self, schema: JsonSchema) -> Any:
        item = self.annotation(schema.get("items", {}))
        return _constrained(list[item], schema, _ARRAY_CONSTRAINTS)  # type: ignore[valid-type]

    def _object(self, schema: JsonSchema) -> Any:
        if "properties" in schema:
            return self.model(str(schema.get("title", "Object")), schema)
        values = self.annotation(schema.get("additionalProperties", True))
        return _constrained(dict[str, values], schema, _OBJECT_CONSTRAINTS)  # type: ignore[valid-type]


_TYPE_BUILDERS: Mapping[str, Callable[[ModelBuilder, JsonSchema], Any]] = {
    "string": ModelBuilder._string,
    "integer": lambda _, schema: _constrained(int, schema, _NUMBER_CONSTRAINTS),
    "number": lambda _, schema: _constrained(float, schema, _NUMBER_CONSTRAINTS),
    "boolean": lambda _, schema: bool,
    "null": lambda _, schema: type(None),
    "array": ModelBuilder._array,
    "object": ModelBuilder._object,
}


def _constrained(base: Any, schema: JsonSchema, keywords: Mapping[str, str]) -> Any:
    constraints = {field: schema[key] for key, field in keywords.items() if key in schema}
    return Annotated[base, Field(**constraints)] if constraints else base


def _enum_class(name: str, values: Sequence[Any]) -> type[enum.Enum]:
    mixin: type | None = None
    for candidate in (str, int):
        if all(type(value) is candidate for value in values):
            mixin = candidate
    members = [(str(value), value) for value in values]
    return enum.Enum(_identifier(name), members, type=mixin)  # type: ignore[return-value]


def _usable_name(name: str) -> bool:
    return (
        name.isidentifier()
        and not keyword.iskeyword(name)
        and not name.startswith(("_", "model_"))
        and not hasattr(BaseModel, name)
    )


def _identifier(name: str) -> str:
    cleaned = "".join(ch if ch.isalnum() else "_" for ch in name)
    return cleaned if cleaned.isidentifier() else f"Schema_{cleaned}"
