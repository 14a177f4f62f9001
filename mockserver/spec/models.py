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


# Keywords that change what a schema accepts, and that this builder turns into pydantic.
_VALIDATING = frozenset(
    {
        "$ref", "type", "enum", "const", "properties", "required", "additionalProperties",
        "items", "prefixItems", "minItems", "maxItems", "uniqueItems", "minLength",
        "maxLength", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
        "multipleOf", "minProperties", "maxProperties", "anyOf", "oneOf", "allOf",
        "discriminator", "format",
    }
)  # fmt: skip
# Keywords that only describe (pydantic writes several of them); anything else is refused,
# so that a schema is never served with a constraint silently dropped.
_DESCRIBING = frozenset(
    {
        "title", "description", "default", "example", "examples", "deprecated", "readOnly",
        "writeOnly", "nullable", "externalDocs", "xml", "$comment", "contentMediaType",
        "contentEncoding", "$schema", "$id",
    }
)  # fmt: skip


class ModelBuilder:
    """Turns schemas of one spec into pydantic annotations, caching named components.

    Each schema is reached by a JSON pointer (``where``): a construct it cannot serve is
    refused with that pointer and the keyword, when the app is built, never later.
    """

    def __init__(self, spec: Spec) -> None:
        self._spec = spec
        self._named: dict[str, Any] = {}
        self._url_schemas = [
            (TypeAdapter(url_type).json_schema(), url_type) for url_type in _URL_TYPES
        ]

    @property
    def spec(self) -> Spec:
        return self._spec

    def adapter(self, schema: JsonSchema, where: str) -> TypeAdapter[Any]:
        """A validator for ``schema`` (a request body or a parameter), found at ``where``."""
        return TypeAdapter(self.annotation(schema, where))

    def annotation(self, schema: JsonSchema | bool, where: str) -> Any:
        if schema is True or schema == {}:
            return Any
        if schema is False:
            raise SpecError(f"{where}: a schema of 'false' accepts nothing and cannot be served")
        assert isinstance(schema, Mapping)
        _check_keywords(schema, where)
        if "$ref" in schema:
            return self._named_annotation(str(schema["$ref"]))
        if "allOf" in schema:
            if len(schema["allOf"]) != 1:
                raise SpecError(f"{where}: 'allOf' with several schemas is not supported")
            return self.annotation(schema["allOf"][0], f"{where}/allOf/0")
        for combinator in ("anyOf", "oneOf"):
            if combinator in schema:
                return self._union(schema, combinator, where)
        if "const" in schema:
            return Literal[schema["const"]]
        if "enum" in schema:
            return Literal[tuple(schema["enum"])]
        json_type = schema.get("type")
        if isinstance(json_type, list):
            branches = [{**schema, "type": one} for one in json_type]
            return self._union({"anyOf": branches}, "anyOf", where)
        if json_type is None:
            return Any
        build = _TYPE_BUILDERS.get(json_type)
        if build is None:
            raise SpecError(f"{where}: unsupported JSON type {json_type!r}")
        return build(self, schema, where)

    def _union(self, schema: JsonSchema, keyword: str, where: str) -> Any:
        branches: Sequence[JsonSchema] = schema[keyword]
        nullable = any(branch.get("type") == "null" for branch in branches)
        members = [
            self.annotation(branch, f"{where}/{keyword}/{index}")
            for index, branch in enumerate(branches)
            if branch.get("type") != "null"
        ]
        if not members:
            return type(None)
        inner = members[0] if len(members) == 1 else Union[tuple(members)]  # noqa: UP007
        discriminator = schema.get("discriminator")
        if discriminator is not None:
            inner = self._discriminated(inner, members, discriminator, where)
        return Optional[inner] if nullable else inner  # noqa: UP045

    def _discriminated(self, inner: Any, members: list[Any], discriminator: Any, where: str) -> Any:
        """``Field(discriminator=...)``: what pydantic writes as ``discriminator`` on a union."""
        tag = discriminator.get("propertyName") if isinstance(discriminator, Mapping) else None
        if not isinstance(tag, str):
            raise SpecError(f"{where}/discriminator: no 'propertyName'")
        for member in members:
            fields = getattr(member, "model_fields", {})
            if not any((field.alias or name) == tag for name, field in fields.items()):
                raise SpecError(
                    f"{where}/discriminator: every branch must be an object with a "
                    f"{tag!r} constant, and {getattr(member, '__name__', member)} has none"
                )
        return Annotated[inner, Field(discriminator=tag)]

    def _named_annotation(self, ref: str) -> Any:
        if ref not in self._named:
            target = self._spec.resolve({"$ref": ref})
            name = str(target.get("title") or ref.rsplit("/", 1)[-1])
            if "enum" in target:
                # pydantic writes Enum classes as named components, Literals inline.
                _check_keywords(target, ref)
                self._named[ref] = _enum_class(name, target["enum"])
            elif target.get("type") == "object" and "properties" in target:
                self._named[ref] = None  # a placeholder breaks self-reference loops
                self._named[ref] = self.model(name, target, ref)
            else:
                self._named[ref] = self.annotation(target, ref)
        annotation = self._named[ref]
        if annotation is None:
            raise SpecError(f"{ref} refers to itself; recursive schemas are not supported")
        return annotation

    def model(self, name: str, schema: JsonSchema, where: str) -> type[BaseModel]:
        _check_keywords(schema, where)
        required = set(schema.get("required", ()))
        fields: dict[str, Any] = {}
        for index, (prop, prop_schema) in enumerate(schema.get("properties", {}).items()):
            field_name, alias = (prop, None) if _usable_name(prop) else (f"field_{index}", prop)
            default = ... if prop in required else prop_schema.get("default")
            fields[field_name] = (
                self.annotation(prop_schema, f"{where}/properties/{_pointer(prop)}"),
                Field(default=default, alias=alias),
            )
        extra = schema.get("additionalProperties", True)
        if extra not in (True, False, {}):
            raise SpecError(
                f"{where}/additionalProperties: a schema for extra properties next to "
                "'properties' is not supported"
            )
        config = ConfigDict(extra="forbid" if extra is False else "ignore")
        return create_model(_identifier(name), __config__=config, **fields)

    def _string(self, schema: JsonSchema, where: str) -> Any:
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

    def _array(self, schema: JsonSchema, where: str) -> Any:
        if "prefixItems" in schema:
            # pydantic writes tuple[X, Y] as prefixItems with minItems = maxItems = the length.
            prefix = schema["prefixItems"]
            if schema.get("items") not in (None, False) or not (
                schema.get("minItems", len(prefix))
                == schema.get("maxItems", len(prefix))
                == len(prefix)
            ):
                raise SpecError(f"{where}: only fixed-length 'prefixItems' tuples are supported")
            members = tuple(
                self.annotation(item, f"{where}/prefixItems/{index}")
                for index, item in enumerate(prefix)
            )
            return tuple[members]  # type: ignore[valid-type]
        item = self.annotation(schema.get("items", {}), f"{where}/items")
        container = set if schema.get("uniqueItems") else list
        return _constrained(container[item], schema, _ARRAY_CONSTRAINTS)

    def _object(self, schema: JsonSchema, where: str) -> Any:
        if "properties" in schema:
            return self.model(str(schema.get("title", "Object")), schema, where)
        values = self.annotation(
            schema.get("additionalProperties", True), f"{where}/additionalProperties"
        )
        return _constrained(dict[str, values], schema, _OBJECT_CONSTRAINTS)  # type: ignore[valid-type]


def _check_keywords(schema: JsonSchema, where: str) -> None:
    unknown = sorted(set(schema) - _VALIDATING - _DESCRIBING)
    if unknown:
        raise SpecError(f"{where}: {', '.join(repr(k) for k in unknown)} is not supported")


def _pointer(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


_TYPE_BUILDERS: Mapping[str, Callable[[ModelBuilder, JsonSchema, str], Any]] = {
    "string": ModelBuilder._string,
    "integer": lambda _, schema, where: _constrained(int, schema, _NUMBER_CONSTRAINTS),
    "number": lambda _, schema, where: _constrained(float, schema, _NUMBER_CONSTRAINTS),
    "boolean": lambda _, schema, where: bool,
    "null": lambda _, schema, where: type(None),
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
