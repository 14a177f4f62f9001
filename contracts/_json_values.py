"""JSON Schema -> hypothesis strategies for values a client must accept.

This is what the engines lack: schemathesis generates requests, not responses, and
the kit wants the awkward corners of a response schema on purpose. Every value is
valid for its schema, and the generator leans on what clients get wrong: each
``anyOf`` branch, optional keys both absent and null, keys the schema does not name,
and boundary numbers. Keywords it does not model are still honoured, by filtering
the drawn values through the schema's validator.
"""

from __future__ import annotations

import math
import string
import sys
from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import strategies as st

from contracts._contract import Contract
from mockserver.spec.openapi import JsonSchema

# Keywords that change nothing about which values are valid.
_ANNOTATIONS = frozenset(
    {"title", "description", "default", "example", "examples", "deprecated", "readOnly",
     "writeOnly", "$comment", "discriminator", "xml", "externalDocs", "nullable"}
)  # fmt: skip
# Keywords the builder turns into strategies exactly; anything else is filtered for.
_MODELLED = frozenset(
    {"$ref", "anyOf", "type", "enum", "const", "properties", "required",
     "additionalProperties", "items", "minItems", "maxItems", "minimum", "maximum",
     "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "format", "pattern"}
)  # fmt: skip
_FORMATS_MODELLED = frozenset({"uri", "uuid", "date-time"})

MAX_ITEMS = 4
"""Arrays are kept short: their length matters less than their content."""
MAX_EXTRA_KEYS = 2
_ABSENT = object()

_INTEGER_EDGES = (0, 1, -1, 2**31 - 1, -(2**31), 2**32, 2**53 + 1, -(2**53) - 1, 2**63 - 1)
_FLOAT_EDGES = (
    0, 0.0, -0.0, 1, 1.0, -1.0, 0.5, 1e-9, 5e-324, 2.0**53, 1e15 + 0.3,
    sys.float_info.max, -sys.float_info.max,
)  # fmt: skip

JSON_SCALARS: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
"""Any JSON document, small."""

_URL_HOST = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=12)
_URL_PATH = st.text(string.ascii_letters + string.digits + "-._~%/", max_size=24)
URLS: st.SearchStrategy[str] = st.builds(
    lambda host, tld, path: f"https://{host}.{tld}/{path.lstrip('/')}",
    _URL_HOST,
    st.sampled_from(["example", "invalid", "test"]),
    _URL_PATH,
)
"""Absolute URLs on reserved domains (RFC 2606): nothing generated can reach a real host."""


class ValueBuilder:
    """Strategies for the schemas of one contract, built once per schema."""

    def __init__(self, contract: Contract, *, extra_keys: bool = True) -> None:
        self._contract = contract
        self._extra_keys = extra_keys
        self._cache: dict[str, st.SearchStrategy[Any]] = {}

    def strategy(self, schema: JsonSchema | bool) -> st.SearchStrategy[Any]:
        """Values valid for ``schema``."""
        key = repr(schema)
        if key not in self._cache:
            self._cache[key] = self._build(schema)
        return self._cache[key]

    def _build(self, schema: JsonSchema | bool) -> st.SearchStrategy[Any]:
        if schema is True:
            return JSON_VALUES
        if schema is False:
            return st.nothing()
        assert isinstance(schema, Mapping)
        if "$ref" in schema:
            target = self._contract.resolve({"$ref": schema["$ref"]})
            # deferred: a schema may refer to itself.
            return st.deferred(lambda: self.strategy(target))
        strategy = self._build_plain(schema)
        unmodelled = set(schema) - _MODELLED - _ANNOTATIONS
        fmt = schema.get("format")
        if unmodelled or (fmt is not None and fmt not in _FORMATS_MODELLED):
            strategy = strategy.filter(lambda value: not self._contract.errors(value, schema))
        return strategy

    def _build_plain(self, schema: JsonSchema) -> st.SearchStrategy[Any]:
        if "const" in schema:
            return st.just(schema["const"])
        if "enum" in schema:
            return st.sampled_from(list(schema["enum"]))
        branches = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf")
        if branches and "type" not in schema and "properties" not in schema:
            if "allOf" in schema:
                # Draw from the first part; the filter in _build enforces the others.
                return self.strategy(branches[0])
            # null first: it is the simplest answer, and the one clients most often forget.
            ordered = sorted(branches, key=lambda branch: branch.get("type") != "null")
            return st.one_of([_whole(self.strategy(branch)) for branch in ordered])
        json_type = schema.get("type")
        if json_type is None and "properties" in schema:
            json_type = "object"
        if isinstance(json_type, list):
            return st.one_of(
                [_whole(self._build_plain({**schema, "type": one})) for one in json_type]
            )
        if json_type is None:
            return JSON_VALUES
        build = _BY_TYPE.get(str(json_type))
        if build is None:
            raise ValueError(f"unsupported JSON type {json_type!r} in {dict(schema)}")
        return build(self, schema)

    def _object(self, schema: JsonSchema) -> st.SearchStrategy[Any]:
        properties: Mapping[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", ()))
        shapes = {
            name: self._shapes(sub, optional=name not in required)
            for name, sub in properties.items()
        }
        extra = schema.get("additionalProperties", True)
        extra_values: st.SearchStrategy[Any] | None = None
        if extra is not False and self._extra_keys:
            extra_values = JSON_VALUES if extra is True else self.strategy(extra)

        @st.composite
        def objects(draw: st.DrawFn) -> dict[str, Any]:
            drawn: dict[str, Any] = {}
            for name, choices in shapes.items():
                # One choice per key among absent / null / a value, each as likely, so
                # that hypothesis meets every shape often; shrinking goes left to right.
                shape = draw(st.sampled_from(choices))
                if shape is not _ABSENT:
                    drawn[name] = draw(shape)
            if extra_values is not None:
                names = st.text(min_size=1, max_size=10).filter(lambda key: key not in properties)
                drawn.update(draw(st.dictionaries(names, extra_values, max_size=MAX_EXTRA_KEYS)))
            return drawn

        return objects()

    def _shapes(self, schema: Any, *, optional: bool) -> list[Any]:
        """How a property may look: absent (if optional), null (if allowed), a value."""
        shapes: list[Any] = [_ABSENT] if optional else []
        branches = schema.get("anyOf") if isinstance(schema, Mapping) else None
        if branches and any(branch.get("type") == "null" for branch in branches):
            shapes.append(st.none())
            others = [branch for branch in branches if branch.get("type") != "null"]
            schema = {**schema, "anyOf": others} if others else {"type": "null"}
        shapes.append(self.strategy(schema))
        return shapes

    def _array(self, schema: JsonSchema) -> st.SearchStrategy[Any]:
        low = int(schema.get("minItems", 0))
        high = max(low, int(schema.get("maxItems", low + MAX_ITEMS)))
        return st.lists(self.strategy(schema.get("items", True)), min_size=low, max_size=high)

    def _string(self, schema: JsonSchema) -> st.SearchStrategy[Any]:
        low = int(schema.get("minLength", 0))
        high = schema.get("maxLength")
        fmt = schema.get("format")
        if "pattern" in schema:
            base: st.SearchStrategy[str] = st.from_regex(str(schema["pattern"]), fullmatch=True)
        elif fmt == "uri":
            base = URLS
        elif fmt == "uuid":
            base = st.uuids().map(str)
        elif fmt == "date-time":
            base = st.datetimes().map(lambda moment: moment.isoformat() + "Z")
        else:
            return st.text(min_size=low, max_size=high if high is not None else max(low, 40))
        return base.filter(lambda text: low <= len(text) and (high is None or len(text) <= high))

    def _integer(self, schema: JsonSchema) -> st.SearchStrategy[Any]:
        low, high = _bounds(schema, integer=True)
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 0:
            first = None if low is None else math.ceil(low / step)
            last = None if high is None else math.floor(high / step)
            values = st.integers(first, last).map(lambda k: k * step)
            edges = [k * step for k in (first, last) if k is not None]
        else:
            values = st.integers(low, high)
            edges = [edge for edge in (low, high, *_INTEGER_EDGES) if edge is not None]
        edges = [edge for edge in edges if _within(edge, low, high)]
        return st.one_of(st.sampled_from(edges), values) if edges else values

    def _number(self, schema: JsonSchema) -> st.SearchStrategy[Any]:
        low, high = _bounds(schema, integer=False)
        floats = st.floats(
            min_value=low,
            max_value=high,
            exclude_min="exclusiveMinimum" in schema,
            exclude_max="exclusiveMaximum" in schema,
            allow_nan=False,
            allow_infinity=False,
        )
        integers = st.integers(
            None if low is None else math.ceil(low), None if high is None else math.floor(high)
        ).filter(lambda value: _within(value, low, high, schema))
        edges = [edge for edge in _FLOAT_EDGES if _within(edge, low, high, schema)]
        edges += [
            edge for edge in (low, high) if edge is not None and _within(edge, low, high, schema)
        ]
        parts = [floats, integers]
        if edges:
            parts.insert(0, st.sampled_from(edges))
        return st.one_of(parts)


_BY_TYPE: Mapping[str, Callable[[ValueBuilder, JsonSchema], st.SearchStrategy[Any]]] = {
    "object": ValueBuilder._object,
    "array": ValueBuilder._array,
    "string": ValueBuilder._string,
    "integer": ValueBuilder._integer,
    "number": ValueBuilder._number,
    "boolean": lambda _, schema: st.booleans(),
    "null": lambda _, schema: st.none(),
}


def _whole(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``strategy`` kept as one branch of a ``one_of``.

    hypothesis flattens nested ``one_of``s, which would weigh an ``anyOf`` branch by
    its inner alternatives (null would lose to a number 1:3).
    """
    return strategy.map(_same)


def _same(value: Any) -> Any:
    return value


def _bounds(schema: JsonSchema, *, integer: bool) -> tuple[Any, Any]:
    low, high = schema.get("minimum"), schema.get("maximum")
    # OpenAPI 3.1 (JSON Schema 2020-12) spells exclusive bounds as numbers.
    if isinstance(schema.get("exclusiveMinimum"), (int, float)):
        low = schema["exclusiveMinimum"] + (1 if integer else 0)
    if isinstance(schema.get("exclusiveMaximum"), (int, float)):
        high = schema["exclusiveMaximum"] - (1 if integer else 0)
    if integer:
        low = None if low is None else math.ceil(low)
        high = None if high is None else math.floor(high)
    return low, high


def _within(
    value: float, low: float | None, high: float | None, schema: JsonSchema | None = None
) -> bool:
    exclusive = schema or {}
    if low is not None and (value < low or ("exclusiveMinimum" in exclusive and value == low)):
        return False
    return high is None or not (value > high or ("exclusiveMaximum" in exclusive and value == high))
