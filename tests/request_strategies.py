"""Requests a client could send to BFL's FLUX 1.1 [pro] API, well-formed or not.

Hypothesis strategies for the oracle test (test_fastapi_oracle.py). Every part of a
request is drawn from a small strategy whose first choice is the plain one (a POST
with a JSON object, a good key, ``application/json``), so a failing request shrinks
to the fewest fields, the shortest text and the plainest headers that still fail.

Bodies are built as JSON *text*, not dumped from Python values, so they can hold what
Python's ``json`` reads but ``json.dumps`` would not write: ``NaN``, ``1e400``,
duplicate keys, lone surrogate escapes, 4,300-digit integers.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from exchange import KNOWN_TASK, Exchange
from reference_app import FluxPro11Inputs
from support import CREDITS, RESULT, SUBMIT

GOOD_KEY = "good-key"
"""The key the apps accept when they are given an allow-list."""
OTHER_KEY = "other-key"

FIELDS = tuple(FluxPro11Inputs.model_fields)
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

# -- what each field of FluxPro11Inputs accepts, and values just outside it ----------------

sizes = st.integers(8, 45).map(lambda steps: steps * 32)
VALID_URLS = ("https://example.com/hook", "http://127.0.0.1:9/x?y=1", "https://例え.jp/フック")
INVALID_URLS = (
    "ftp://example.com/hook", "", "not a url", "http://", "//example.com/x", "javascript:x",
    "http://[::1", "https://e.com/" + "a" * 2070, "https://e.com/" + "a" * 2069,
)  # fmt: skip
VALID: dict[str, st.SearchStrategy[Any]] = {
    "prompt": st.none() | text,
    "image_prompt": st.none() | text,
    "width": sizes,
    "height": sizes,
    "prompt_upsampling": st.booleans(),
    "seed": st.none() | st.integers(),
    "safety_tolerance": st.integers(0, 6),
    "output_format": st.sampled_from([None, "jpeg", "png"]),
    "webhook_url": st.none() | st.sampled_from(VALID_URLS),
    "webhook_secret": st.none() | text,
}
assert set(VALID) == set(FIELDS), "every field of the oracle's model has valid values"
SIZE_MISSES = (1000, 1472, 224, 1441, 255, 2048, 0, -32, 1439, 257, 10**30)
NEAR_MISSES: dict[str, st.SearchStrategy[Any]] = {
    "width": st.sampled_from(SIZE_MISSES) | st.integers(),
    "height": st.sampled_from(SIZE_MISSES) | st.integers(),
    "safety_tolerance": st.sampled_from([-1, 7, 100]) | st.integers(),
    "output_format": st.sampled_from(["webp", "JPEG", "jpg", "", "png "]),
    "webhook_url": st.sampled_from(INVALID_URLS),
}


def off_values(name: str) -> st.SearchStrategy[str]:
    """JSON text the member ``name`` does not accept (mostly): near misses, or anything."""
    near = [NEAR_MISSES[name].map(json.dumps)] * 2 if name in NEAR_MISSES else []
    return st.one_of(*near, any_value)


def field_values(name: str) -> st.SearchStrategy[str]:
    """JSON text for the member ``name``: valid, just outside its constraints, or anything."""
    own = [VALID[name].map(json.dumps)] if name in VALID else []
    return st.one_of(*own, off_values(name))


member_names = st.one_of(
    st.sampled_from(FIELDS),
    st.sampled_from(["Width", "width ", "seed\x00", "steps", "guidance", "__proto__", ""]),
    text,
)


@st.composite
def json_objects(draw: st.DrawFn) -> str:
    """An object of any members (repeats allowed), spaced and escaped in any way."""
    names = draw(st.lists(member_names, max_size=6))
    ascii_only = draw(st.booleans())
    comma = draw(st.sampled_from([",", ", ", " ,\n\t"]))
    colon = draw(st.sampled_from([":", ": "]))
    members = [
        json.dumps(name, ensure_ascii=ascii_only) + colon + draw(field_values(name))
        for name in names
    ]
    return "{" + comma.join(members) + "}"


valid_members = st.fixed_dictionaries({}, optional=VALID)
# Per field: left out, valid, or broken; weighted so that most objects break one or two.
ROLES = ("absent",) * 8 + ("valid",) * 10 + ("broken",) * 2


@st.composite
def broken_objects(draw: st.DrawFn) -> str:
    """An object whose members are valid, save (mostly) a few the model does not accept."""
    members = []
    for name in FIELDS:
        role = draw(st.sampled_from(ROLES))
        if role == "valid":
            members.append((name, json.dumps(draw(VALID[name]))))
        elif role == "broken":
            members.append((name, draw(off_values(name))))
    return "{" + ", ".join(f"{json.dumps(name)}: {value}" for name, value in members) + "}"


@st.composite
def near_miss_objects(draw: st.DrawFn) -> str:
    """A valid object with exactly one member just outside what it accepts."""
    members = draw(valid_members)
    name = draw(st.sampled_from(tuple(NEAR_MISSES)))
    members[name] = draw(NEAR_MISSES[name])
    return json.dumps(members)


valid_objects = st.tuples(
    valid_members,
    st.dictionaries(text.filter(lambda name: name not in FIELDS), json_values, max_size=2),
).map(lambda parts: json.dumps({**parts[0], **parts[1]}))
json_texts = st.one_of(
    valid_objects,
    near_miss_objects(),
    broken_objects(),
    broken_objects(),
    json_objects(),
    any_value,
)

# -- the body as bytes ---------------------------------------------------------------------

ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32", "latin-1")
BAD_BYTES = (b"\xff", b"\xc3", b"\x80", b"\xed\xa0\x80", b"\x00")


# One in eight bodies gets a stray byte; drawn as one value, since a draw that only
# sometimes happens makes hypothesis discard many of the examples it mutates.
stray_bytes = st.one_of(
    *[st.none()] * 7, st.tuples(st.integers(0, 100), st.sampled_from(BAD_BYTES))
)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """JSON text, perhaps truncated, padded or followed by junk, in some encoding."""
    body: str = draw(json_texts)
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


any_body = st.one_of(bodies(), st.sampled_from([b"", b" ", b"null", b"{}"]))

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
json_submits = any_body.map(lambda body: Exchange("POST", SUBMIT, (), JSON_KEYED, body))
"""Bodies sent as a client means them: POSTed as JSON, with a good key."""


@st.composite
def submits(draw: st.DrawFn) -> Exchange:
    """A submit with headers, query and body all drawn: what FastAPI reads, and in what order."""
    return Exchange(
        method="POST",
        path=SUBMIT,
        query=draw(mostly((), ((("width", "1000"),), (("id", KNOWN_TASK),)))),
        headers=draw(request_headers()),
        body=draw(any_body),
    )


@st.composite
def misdirected_submits(draw: st.DrawFn) -> Exchange:
    """A submit with the method or path a little off: FastAPI's routing answers."""
    return Exchange(
        method=draw(methods("POST")),
        path=draw(paths(SUBMIT)),
        query=draw(st.just(()) | queries),
        headers=draw(request_headers()),
        body=draw(any_body),
    )


@st.composite
def polls(draw: st.DrawFn) -> Exchange:
    return Exchange(
        method=draw(methods("GET")),
        path=draw(paths(RESULT)),
        query=draw(st.one_of(st.just((("id", KNOWN_TASK),)), queries)),
        headers=draw(request_headers()),
        body=draw(st.just(b"") | any_body),
        raw_query=draw(mostly("", RAW_QUERIES[1:])),
    )


@st.composite
def credit_checks(draw: st.DrawFn) -> Exchange:
    return Exchange(
        method=draw(methods("GET")),
        path=draw(paths(CREDITS)),
        query=draw(st.just(()) | queries),
        headers=draw(request_headers()),
        body=draw(st.just(b"") | any_body),
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
    """Requests for paths the API does not have."""
    return Exchange(
        method=draw(st.sampled_from(METHODS)),
        path=draw(st.sampled_from(OTHER_PATHS)),
        query=draw(st.just(()) | queries),
        headers=draw(request_headers()),
        body=draw(st.just(b"") | any_body),
    )


exchanges = st.one_of(
    submits(), submits(), polls(), credit_checks(), misdirected_submits(), strays()
)
"""Any request: method, path, query, headers and body all drawn."""
