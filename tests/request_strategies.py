"""Requests a client could send to BFL's API, well-formed or not.

Hypothesis strategies for the oracle test (property/test_fastapi_oracle_properties.py).
Bodies are drawn for one endpoint's model (the oracle's own: its members, each one's
valid values and the values just outside them come from the JSON Schema pydantic writes
for it). Every part of a request is drawn from a small strategy whose first choice is
the plain one (a POST with a JSON object, a good key, ``application/json``), so a
failing request shrinks to the fewest fields, the shortest text and the plainest headers
that still fail.

Bodies are built as JSON *text*, not dumped from Python values, so they can hold what
Python's ``json`` reads but ``json.dumps`` would not write: ``NaN``, ``1e400``,
duplicate keys, lone surrogate escapes, 4,300-digit integers.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import strategies as st
from pydantic import BaseModel

from exchange import KNOWN_TASK, Exchange
from reference_app import FluxPro11Inputs
from support import CREDITS, RESULT, SUBMIT

GOOD_KEY = "good-key"
"""The key the apps accept when they are given an allow-list."""
OTHER_KEY = "other-key"

METHODS = ("POST", "GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
MAX_NESTING = 900
"""Deepest nesting generated. Deeper, the answer depends on the server's stack (README)."""

# -- one value, as JSON text ---------------------------------------------------------------


text = st.text(max_size=12)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)
NUMBER_TOKENS = (
    "NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400", "1E3", "1.024e3", "1024.0",
    "768.00", "1024.5", "-0", "-0.0", "0.0", "2.5", "6.0", "1e2",
)  # fmt: skip
numbers = (
    st.integers().map(str)
    | st.floats(allow_nan=False, allow_infinity=False).map(repr)
    | st.sampled_from(NUMBER_TOKENS)
)
# Python reads integers of up to 4300 digits; one digit more and its decoder refuses the body.
long_integers = st.integers(19, 4301).map(lambda digits: "9" * digits)
NUMERIC_TEXTS = (
    "1024", " 1024 ", "1_024", "1e3", "0x400", "+1024", "1024.0", "1024.5", "١٠٢٤", "１０２４",
    "-0", "", "NaN", "inf", "3.0", "6", "0", "12345678901234567890",
)  # fmt: skip
numeric_strings = st.sampled_from(NUMERIC_TEXTS).map(json.dumps) | st.integers().map(
    lambda n: json.dumps(str(n))
)
BOOLEAN_SPELLINGS = (
    "true", "True", "TRUE", "yes", "Yes", "on", "1", "0", "t", "f", "y", "n", "off", "no",
    "false", " true", "", "OK", "1.0",
)  # fmt: skip
boolean_spellings = st.sampled_from(BOOLEAN_SPELLINGS).map(json.dumps) | st.sampled_from(
    ["0", "1", "0.0", "1.0", "2", "-1"]
)
lone_surrogates = st.integers(0xD800, 0xDFFF).map(lambda point: f'"\\u{point:04x}"')
long_strings = st.tuples(st.integers(1_000, 20_000), st.sampled_from("aé🦊\x00")).map(
    lambda spec: json.dumps(spec[1] * spec[0], ensure_ascii=False)
)
depths = st.one_of(st.sampled_from([2, 100, 500, MAX_NESTING]), st.integers(1, MAX_NESTING))
nested = st.tuples(depths, st.sampled_from(["list", "object"])).map(
    lambda spec: (
        "[" * spec[0] + "]" * spec[0]
        if spec[1] == "list"
        else '{"a":' * spec[0] + "1" + "}" * spec[0]
    )
)
any_value = st.one_of(
    json_values.map(json.dumps),
    numbers,
    numeric_strings,
    boolean_spellings,
    st.just("null"),
    lone_surrogates,
    long_strings,
    long_integers,
    nested,
)

# -- what each member of a body accepts, and values just outside it -----------------------
#
# Read from the JSON Schema pydantic writes for the oracle's own model of the body (the
# hand-written one, or one generated from a published spec), keyword by keyword.

JsonSchema = Mapping[str, Any]
VALID_URLS = ("https://example.com/hook", "http://127.0.0.1:9/x?y=1", "https://例え.jp/フック")
INVALID_URLS = (
    "ftp://example.com/hook", "", "not a url", "http://", "//example.com/x", "javascript:x",
    "http://[::1", "https://e.com/" + "a" * 2070, "https://e.com/" + "a" * 2069,
)  # fmt: skip
TAG_SPELLINGS = ("text-to-video", "image-continuation", "video-continuation", "draft-enhance")
"""Mode names a spec's prose offers beside its tags; tried wherever a tag is drawn."""
MAX_ITEMS = 3
"""Longest array drawn where a schema sets no smaller maximum."""
HUGE = 10**30


class Schema:
    """One JSON Schema with the ``$defs`` its ``$ref`` links point into."""

    def __init__(self, schema: JsonSchema, defs: JsonSchema) -> None:
        self.schema = schema
        self._defs = defs

    def at(self, schema: JsonSchema) -> Schema:
        while "$ref" in schema:
            schema = self._defs[str(schema["$ref"]).rsplit("/", 1)[-1]]
        return Schema(schema, self._defs)

    def branches(self) -> list[Schema]:
        """The members of an anyOf or oneOf; a schema without either is its own one."""
        members = self.schema.get("anyOf") or self.schema.get("oneOf")
        return [self.at(member) for member in members] if members else [self]

    def bounds(self) -> tuple[float | None, float | None]:
        low, high = self.schema.get("minimum"), self.schema.get("maximum")
        if "exclusiveMinimum" in self.schema:
            low = self.schema["exclusiveMinimum"] + (
                1 if self.schema.get("type") == "integer" else 0
            )
        if "exclusiveMaximum" in self.schema:
            high = self.schema["exclusiveMaximum"] - (
                1 if self.schema.get("type") == "integer" else 0
            )
        return low, high


def valid_values(schema: Schema) -> st.SearchStrategy[Any]:
    """JSON values ``schema`` accepts."""
    branches = schema.branches()
    if len(branches) > 1 or branches[0] is not schema:
        return st.one_of(*(valid_values(branch) for branch in branches))
    keywords = schema.schema
    if "const" in keywords:
        return st.just(keywords["const"])
    if "enum" in keywords:
        return st.sampled_from(keywords["enum"])
    kind = keywords.get("type")
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        low, high = schema.bounds()
        step = int(keywords.get("multipleOf", 1))
        first = None if low is None else math.ceil(low / step)
        last = None if high is None else math.floor(high / step)
        return st.integers(first, last).map(lambda multiple: multiple * step)
    if kind == "number":
        low, high = schema.bounds()
        return st.floats(low, high, allow_nan=False, allow_infinity=False) | st.integers(
            None if low is None else math.ceil(low), None if high is None else math.floor(high)
        )
    if kind == "string":
        return _valid_strings(keywords)
    if kind == "array":
        if "prefixItems" in keywords:
            items = [valid_values(schema.at(item)) for item in keywords["prefixItems"]]
            return st.tuples(*items).map(list)
        low = keywords.get("minItems", 0)
        return st.lists(
            valid_values(schema.at(keywords.get("items", {}))),
            min_size=low,
            max_size=min(keywords.get("maxItems", low + MAX_ITEMS), low + MAX_ITEMS),
        )
    if kind == "object":
        return st.dictionaries(text, json_values, max_size=3)
    return json_values


def _valid_strings(keywords: JsonSchema) -> st.SearchStrategy[str]:
    low, high = keywords.get("minLength", 0), keywords.get("maxLength")
    if keywords.get("format") == "uri":
        return st.sampled_from([url for url in VALID_URLS if high is None or len(url) <= high])
    longest = low + 12 if high is None else min(high, low + 12)
    return st.text(min_size=low, max_size=longest)


def near_misses(schema: Schema) -> list[st.SearchStrategy[Any]]:
    """Values just outside what ``schema`` accepts (mostly: lax mode takes some of them)."""
    branches = schema.branches()
    if len(branches) > 1 or branches[0] is not schema:
        return [miss for branch in branches for miss in near_misses(branch)]
    keywords = schema.schema
    if "const" in keywords:
        return [st.sampled_from(_respellings([keywords["const"]]))]
    if "enum" in keywords:
        return [st.sampled_from(_respellings(keywords["enum"]))]
    kind = keywords.get("type")
    if kind in ("integer", "number"):
        return [st.sampled_from(_numbers_outside(schema))]
    if kind == "string":
        return _strings_outside(keywords)
    if kind == "array":
        return _arrays_outside(schema)
    return []


def _respellings(values: list[Any]) -> list[Any]:
    """Near spellings of the members of an enum: case, spaces, cut short, mistyped."""
    found: list[Any] = []
    for value in values:
        if isinstance(value, str):
            found += [value.upper(), value.title(), f" {value}", f"{value} ", value[:-1], ""]
        elif isinstance(value, int) and not isinstance(value, bool):
            found += [value + 1, value - 1, str(value), float(value) + 0.5]
    return [value for value in dict.fromkeys(found) if value not in values] or [None]


def _numbers_outside(schema: Schema) -> list[Any]:
    """Just past each bound first (where a shrunk failure should land), then further off."""
    low, high = schema.bounds()
    step = schema.schema.get("multipleOf")
    edges = [(edge, outward) for edge, outward in ((low, -1), (high, 1)) if edge is not None]
    found: list[Any] = [
        edge + outward * by for by in (1, step or 1000, 0.5) for edge, outward in edges
    ]
    inside = low if low is not None else 0
    if step is not None:
        found += [inside + 1, inside + step / 2]
    if schema.schema.get("type") == "integer":
        found += [inside + 0.5, 1e3 + 0.25]
    return list(dict.fromkeys([*found, HUGE, -HUGE]))


def _strings_outside(keywords: JsonSchema) -> list[st.SearchStrategy[Any]]:
    found: list[str] = []
    if keywords.get("format") == "uri":
        found += INVALID_URLS
    if "maxLength" in keywords:
        found.append("a" * (keywords["maxLength"] + 1))
    if keywords.get("minLength", 0) > 0:
        found.append("a" * (keywords["minLength"] - 1))
    return [st.sampled_from(found)] if found else []


def _arrays_outside(schema: Schema) -> list[st.SearchStrategy[Any]]:
    keywords = schema.schema
    if "prefixItems" in keywords:
        items = [valid_values(schema.at(item)) for item in keywords["prefixItems"]]
        exact = st.tuples(*items).map(list)
        return [
            exact.map(lambda values: values[::-1]),
            exact.map(lambda values: values[:-1]),
            st.tuples(exact, json_values).map(lambda parts: [*parts[0], parts[1]]),
        ]
    item = schema.at(keywords.get("items", {}))
    found = (
        [st.lists(st.one_of(*near_misses(item)), min_size=1, max_size=2)]
        if near_misses(item)
        else []
    )
    if "maxItems" in keywords:
        found.append(
            st.lists(
                valid_values(item),
                min_size=keywords["maxItems"] + 1,
                max_size=keywords["maxItems"] + 1,
            )
        )
    return found


@dataclasses.dataclass(frozen=True)
class Members:
    """The members of one object a body may be (one of the modes of a tagged union)."""

    valid: Mapping[str, st.SearchStrategy[Any]]
    """Each member's valid values, in the schema's order."""
    near: Mapping[str, st.SearchStrategy[Any]]
    """Each member's near misses, for those that have any."""
    required: frozenset[str]
    closed: bool
    """``additionalProperties: false``: a member the schema does not name is refused."""

    @classmethod
    def of(cls, schema: Schema, tag: str | None, tags: tuple[Any, ...]) -> Members:
        properties = {name: schema.at(value) for name, value in schema.schema["properties"].items()}
        near = {}
        for name, member in properties.items():
            misses = near_misses(member)
            if name == tag:  # another mode's tag, and the spellings a spec's prose offers
                misses += [st.sampled_from([*tags, *TAG_SPELLINGS])]
            if misses:
                near[name] = st.one_of(*misses)
        return cls(
            valid={name: valid_values(member) for name, member in properties.items()},
            near=near,
            required=frozenset(schema.schema.get("required", ())),
            closed=schema.schema.get("additionalProperties") is False,
        )

    def off_values(self, name: str) -> st.SearchStrategy[str]:
        """JSON text the member ``name`` does not accept (mostly): near misses, or anything."""
        near = [self.near[name].map(json.dumps)] * 2 if name in self.near else []
        return st.one_of(*near, any_value)

    def field_values(self, name: str) -> st.SearchStrategy[str]:
        """JSON text for the member ``name``: valid, just outside its constraints, or anything."""
        own = [self.valid[name].map(json.dumps)] if name in self.valid else []
        return st.one_of(*own, self.off_values(name))

    @property
    def names(self) -> st.SearchStrategy[str]:
        """Member names: the schema's, near spellings of them, and anything."""
        fields = tuple(self.valid)
        near = {
            f(name) for name in fields for f in (str.title, lambda n: n + " ", lambda n: n + "\x00")
        }
        return st.one_of(
            st.sampled_from(fields), st.sampled_from(sorted(near | {"__proto__", ""})), text
        )

    def texts(self) -> st.SearchStrategy[str]:
        """JSON text of objects: valid, one member off, several off, or any members at all."""
        valid_members = st.fixed_dictionaries(
            {name: self.valid[name] for name in self.valid if name in self.required},
            optional={name: self.valid[name] for name in self.valid if name not in self.required},
        )
        unknown = st.dictionaries(
            text.filter(lambda name: name not in self.valid), json_values, max_size=2
        )
        valid_objects = st.tuples(valid_members, unknown).map(
            lambda parts: json.dumps({**parts[0], **parts[1]})
        )
        return st.one_of(
            valid_objects,
            _near_miss_objects(self, valid_members),
            _broken_objects(self),
            _broken_objects(self),
            _json_objects(self),
        )


# Per member: left out, valid, or broken; weighted so that most objects break one or two.
ROLES = ("absent",) * 8 + ("valid",) * 10 + ("broken",) * 2


@st.composite
def _json_objects(draw: st.DrawFn, members: Members) -> str:
    """An object of any members (repeats allowed), spaced and escaped in any way."""
    names = draw(st.lists(members.names, max_size=6))
    ascii_only = draw(st.booleans())
    comma = draw(st.sampled_from([",", ", ", " ,\n\t"]))
    colon = draw(st.sampled_from([":", ": "]))
    texts = [
        json.dumps(name, ensure_ascii=ascii_only) + colon + draw(members.field_values(name))
        for name in names
    ]
    return "{" + comma.join(texts) + "}"


@st.composite
def _broken_objects(draw: st.DrawFn, members: Members) -> str:
    """An object whose members are valid, save (mostly) a few the model does not accept."""
    chosen = []
    for name, values in members.valid.items():
        role = draw(st.sampled_from(ROLES))
        if role == "valid" or (
            role == "absent" and name in members.required and draw(st.booleans())
        ):
            chosen.append((name, json.dumps(draw(values))))
        elif role == "broken":
            chosen.append((name, draw(members.off_values(name))))
    return "{" + ", ".join(f"{json.dumps(name)}: {value}" for name, value in chosen) + "}"


@st.composite
def _near_miss_objects(
    draw: st.DrawFn, members: Members, valid_members: st.SearchStrategy[dict[str, Any]]
) -> str:
    """A valid object with exactly one change.

    A member just outside what it accepts, a required one left out, or (where the schema
    names every member it accepts) one it does not name.
    """
    chosen = draw(valid_members)
    changes = [
        *(("off", name) for name in members.near),
        *(("left out", name) for name in sorted(members.required)),
        *([("unknown", "")] if members.closed else []),
    ]
    if not changes:
        return json.dumps(chosen)
    change, name = draw(st.sampled_from(changes))
    if change == "off":
        chosen[name] = draw(members.near[name])
    elif change == "left out":
        chosen.pop(name, None)
    else:
        unknown = draw(members.names.filter(lambda name: name not in members.valid))
        chosen[unknown] = draw(json_values)
    return json.dumps(chosen)


@functools.cache
def json_texts(model: type[BaseModel]) -> st.SearchStrategy[str]:
    """Bodies for ``model`` as JSON text, well-formed or broken, or any JSON value.

    Objects of its members; of each mode's members, for a tagged union.
    """
    document = model.model_json_schema()
    root = Schema(document, document.get("$defs", {}))
    discriminator = document.get("discriminator", {})
    tag = discriminator.get("propertyName")
    tags = tuple(discriminator.get("mapping", ()))
    modes = [Members.of(branch, tag, tags).texts() for branch in root.branches()]
    return st.one_of(*modes, any_value)


# -- the body as bytes ---------------------------------------------------------------------

ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32", "latin-1")
BAD_BYTES = (b"\xff", b"\xc3", b"\x80", b"\xed\xa0\x80", b"\x00")


# One in eight bodies gets a stray byte; drawn as one value, since a draw that only
# sometimes happens makes hypothesis discard many of the examples it mutates.
stray_bytes = st.one_of(
    *[st.none()] * 7, st.tuples(st.integers(0, 100), st.sampled_from(BAD_BYTES))
)


@st.composite
def bodies(draw: st.DrawFn, texts: st.SearchStrategy[str]) -> bytes:
    """JSON text, perhaps truncated, padded or followed by junk, in some encoding."""
    body: str = draw(texts)
    damage = draw(st.sampled_from(["none"] * 8 + ["truncate", "pad", "trail"]))
    if damage == "truncate":
        body = body[: len(body) * draw(st.integers(0, 100)) // 100]
    elif damage == "pad":
        body = draw(st.sampled_from([" ", "\n", "\t", "\r\n"])) + body + "\n"
    elif damage == "trail":
        body += draw(st.sampled_from(["x", "}", ",", "{}", "\x00", " 1"]))
    encoding: str = draw(st.sampled_from(ENCODINGS[:1] * 8 + ENCODINGS))
    raw = body.encode(encoding, "replace")
    stray: tuple[int, bytes] | None = draw(stray_bytes)
    if stray is not None:
        percent, byte = stray
        at = len(raw) * percent // 100
        raw = raw[:at] + byte + raw[at:]
    return raw


def any_body(model: type[BaseModel]) -> st.SearchStrategy[bytes]:
    """Bodies for ``model``, as bytes: JSON text of any kind, damaged or not, or none."""
    return st.one_of(bodies(json_texts(model)), st.sampled_from([b"", b" ", b"null", b"{}"]))


# -- headers and the request line ----------------------------------------------------------

CONTENT_TYPES: tuple[str | None, ...] = (
    "application/json", None, "application/json; charset=utf-8",
    "application/json;charset=latin-1", 'application/json; charset="utf-16"', "APPLICATION/JSON",
    "application/vnd.api+json", "application/problem+json; charset=utf-8",
    "application/merge-patch+json", "application/+json", "application/jsonx",
    "application/json+x", "text/plain", "text/plain; charset=utf-8", "text/json",
    "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
    "application/octet-stream", "", "json", "application/", ";", "*/*",
    "application/json, text/plain",
)  # fmt: skip
KEY_HEADERS: tuple[tuple[tuple[str, bytes], ...], ...] = (
    (("x-key", GOOD_KEY.encode()),),
    (),
    (("x-key", b""),),
    (("x-key", OTHER_KEY.encode()),),
    (("x-key", b" "),),
    (("X-Key", GOOD_KEY.encode()),),
    (("x-key", OTHER_KEY.encode()), ("x-key", GOOD_KEY.encode())),
    (("x-key", GOOD_KEY.encode()), ("x-key", OTHER_KEY.encode())),
    (("x-key", "clé".encode("latin-1")),),
    (("x_key", GOOD_KEY.encode()),),
    (("x-api-key", GOOD_KEY.encode()),),
)


def mostly(usual: Any, others: tuple[Any, ...], weight: int = 4) -> st.SearchStrategy[Any]:
    """``usual`` ``weight`` times as often as each of ``others`` (and shrinking towards it)."""
    return st.sampled_from((usual,) * weight + others)


@st.composite
def request_headers(draw: st.DrawFn) -> tuple[tuple[str, bytes], ...]:
    headers: tuple[tuple[str, bytes], ...] = draw(mostly(KEY_HEADERS[0], KEY_HEADERS[1:], 8))
    content_type = draw(mostly(CONTENT_TYPES[0], CONTENT_TYPES[1:], 12))
    if content_type is not None:
        headers += (("content-type", content_type.encode()),)
    return headers


def methods(usual: str) -> st.SearchStrategy[str]:
    return mostly(usual, METHODS, len(METHODS))


def paths(usual: str) -> st.SearchStrategy[str]:
    near = (usual + "/", usual + "//", usual.upper(), usual + "x", usual.replace("/v1/", "/v1//"))
    return mostly(usual, near, len(near))


query_names = st.sampled_from(["id", "ID", "Id", "id[]", "ids", "x", "width", ""])
query_values = st.one_of(st.sampled_from([KNOWN_TASK, ""]), st.uuids().map(str), text)
queries = st.lists(st.tuples(query_names, query_values), max_size=3).map(tuple)
RAW_QUERIES = ("", "id=%FF", "id=%E2%82", "id=%00", "id", "id=a&id", "&&id=x", "id=x;y", "id=a+b")


JSON_KEYED = (("x-key", GOOD_KEY.encode()), ("content-type", b"application/json"))
SEED_BODY = FluxPro11Inputs
"""The bundled spec's one generation body (the oracle's hand-written model)."""
ignored_bodies = st.just(b"") | any_body(SEED_BODY)
"""Bodies sent where none is read (GETs, unknown paths)."""


def json_submits_to(path: str, model: type[BaseModel]) -> st.SearchStrategy[Exchange]:
    """Bodies for ``model`` sent as a client means them: POSTed as JSON, with a good key."""
    return any_body(model).map(lambda body: Exchange("POST", path, (), JSON_KEYED, body))


@st.composite
def submits(draw: st.DrawFn, path: str, model: type[BaseModel]) -> Exchange:
    """A submit with headers, query and body all drawn: what FastAPI reads, and in what order."""
    return Exchange(
        method="POST",
        path=path,
        query=draw(mostly((), ((("width", "1000"),), (("id", KNOWN_TASK),)))),
        headers=draw(request_headers()),
        body=draw(any_body(model)),
    )


@st.composite
def misdirected_submits(draw: st.DrawFn, path: str, model: type[BaseModel]) -> Exchange:
    """A submit with the method or path a little off: FastAPI's routing answers."""
    return Exchange(
        method=draw(methods("POST")),
        path=draw(paths(path)),
        query=draw(st.just(()) | queries),
        headers=draw(request_headers()),
        body=draw(any_body(model)),
    )


@st.composite
def polls(draw: st.DrawFn) -> Exchange:
    return Exchange(
        method=draw(methods("GET")),
        path=draw(paths(RESULT)),
        query=draw(st.one_of(st.just((("id", KNOWN_TASK),)), queries)),
        headers=draw(request_headers()),
        body=draw(ignored_bodies),
        raw_query=draw(mostly("", RAW_QUERIES[1:])),
    )


@st.composite
def credit_checks(draw: st.DrawFn) -> Exchange:
    return Exchange(
        method=draw(methods("GET")),
        path=draw(paths(CREDITS)),
        query=draw(st.just(()) | queries),
        headers=draw(request_headers()),
        body=draw(ignored_bodies),
    )


OTHER_PATHS = (
    "/",
    "/v1",
    "/v1/",
    "/nowhere",
    "/v1/flux-dev",
    "/docs",
    "/redoc",
    "/v1/get_result/x",
)


@st.composite
def strays(draw: st.DrawFn) -> Exchange:
    """Requests for paths the bundled API does not have."""
    return Exchange(
        method=draw(st.sampled_from(METHODS)),
        path=draw(st.sampled_from(OTHER_PATHS)),
        query=draw(st.just(()) | queries),
        headers=draw(request_headers()),
        body=draw(ignored_bodies),
    )


json_submits = json_submits_to(SUBMIT, SEED_BODY)
"""The bundled spec's submits, sent as a client means them."""
exchanges = st.one_of(
    submits(SUBMIT, SEED_BODY),
    submits(SUBMIT, SEED_BODY),
    polls(),
    credit_checks(),
    misdirected_submits(SUBMIT, SEED_BODY),
    strays(),
)
"""Any request to the bundled API: method, path, query, headers and body all drawn."""


def endpoint_exchanges(path: str, model: type[BaseModel]) -> st.SearchStrategy[Exchange]:
    """Requests to one generation endpoint: mostly bodies sent as meant, then anything."""
    sent_as_meant = json_submits_to(path, model)
    return st.one_of(
        sent_as_meant, sent_as_meant, submits(path, model), misdirected_submits(path, model)
    )


def api_exchanges(
    endpoints: Sequence[tuple[str, type[BaseModel]]],
) -> st.SearchStrategy[Exchange]:
    """Any request to an API of ``endpoints`` (path, body model).

    An endpoint is drawn, then a request to it; or a poll, a credits check or a stray.
    """
    to_one = st.sampled_from(endpoints).flatmap(lambda endpoint: endpoint_exchanges(*endpoint))
    return st.one_of(to_one, to_one, to_one, polls(), credit_checks(), strays())
