"""The oracle is BFL's FastAPI 0.128.0 server, and the differential test against it bites.

The hand-written reference (``oracle``) regenerates BFL's published schemas, so it is
the real server's model (test_reference_models.py shows it for the generated ones). A
mock that drifts from it is caught with a minimal request, and FastAPI's and
Starlette's edges a client can see are the mock's, one at a time. The differential
property test itself, on every request hypothesis builds, is
property/test_fastapi_oracle_properties.py.
"""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import find, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from mockserver.clock import ManualClock
from mockserver.http.app import create_app
from mockserver.spec.reading import parse_spec

from exchange import Exchange
from reference_models import APRIL_2026, OCTOBER_2026, Published
from support import CREDITS, RESULT, ROOT, SUBMIT, fastapi_oracle_missing

if (missing := fastapi_oracle_missing()) is not None:
    pytest.skip(missing, allow_module_level=True)

# Only with the pinned FastAPI installed: the oracle is written with it.
from oracle import (
    MOCK_SETTINGS,
    Arena,
    Contestant,
    Contestants,
    Keys,
    answered_as_fastapi,
    assert_same_answer,
    contest,
    deciding_rule,
    enter,
)
from reference_app import create_reference_app
from request_strategies import GOOD_KEY, JSON_KEYED, json_submits, json_texts, polls


@pytest.fixture(scope="module")
def contestants() -> Iterator[dict[Keys, Contestants]]:
    with contextlib.ExitStack() as stack:
        yield {keys: contest(stack, keys) for keys in Keys}


@pytest.fixture(scope="module")
def arena() -> Iterator[Arena]:
    with contextlib.ExitStack() as stack:
        yield Arena(stack)


# -- the oracle is BFL's server --------------------------------------------------------------


def test_the_reference_regenerates_the_published_schemas() -> None:
    """The hand-written oracle is the real server's model: FastAPI writes BFL's spec from it.

    (FastAPI writes constraints as floats, 32.0; the bundled spec spells them 32, BFL's
    published one 32.0. Python compares them equal, and pydantic reports them as written.)
    """
    generated = create_reference_app().openapi()
    published = json.loads((ROOT / "openapi.json").read_bytes())
    assert generated["paths"] == published["paths"]
    assert generated["components"] == published["components"]
    assert generated["info"] == published["info"]


# -- the differential test can fail, and shrinks what fails to a minimal request --------------


def first_difference(
    reference: Contestant, mock: Contestant, strategy: st.SearchStrategy[Exchange]
) -> Exchange:
    """The simplest request ``mock`` answers unlike ``reference``, as hypothesis shrinks it.

    Requests a business rule decides are no difference (see ``BUSINESS_RULES``).
    """

    def differs(exchange: Exchange) -> bool:
        if deciding_rule(exchange) is not None:
            return False
        try:
            assert_same_answer(reference.answer(exchange), mock.answer(exchange))
        except AssertionError:
            return True
        return False

    # A fixed seed: the same search each run, so the check cannot be lucky or unlucky.
    return find(
        strategy,
        differs,
        settings=settings(max_examples=5000, database=None),
        random=random.Random(0),
    )


def test_a_mock_that_drifts_from_fastapi_is_caught_with_a_minimal_request(
    contestants: dict[Keys, Contestants],
) -> None:
    # Deliberately broken: a poll for an unknown task answers 200 (the spec's reading).
    with contextlib.ExitStack() as stack:
        broken = enter(
            stack,
            create_app(MOCK_SETTINGS.replace(unknown_task_status_code=200), clock=ManualClock()),
            crashes_allowed=False,
        )
        found = first_difference(contestants[Keys.ANY].reference, broken, polls())
        answers = (
            contestants[Keys.ANY].reference.answer(found).status,
            broken.answer(found).status,
        )
    # Shrunk to a plain GET of get_result, for an id neither app knows.
    assert (found.method, found.path, found.body) == ("GET", RESULT, b"")
    assert answers == (404, 200)


def test_a_mock_whose_schema_drifts_is_caught_with_a_minimal_body(
    contestants: dict[Keys, Contestants],
) -> None:
    # Deliberately broken: the mock serves a spec that lets width go up to 2048.
    document = json.loads((ROOT / "openapi.json").read_bytes())
    document["components"]["schemas"]["FluxPro11Inputs"]["properties"]["width"]["maximum"] = 2048
    spec = parse_spec(json.dumps(document).encode())
    with contextlib.ExitStack() as stack:
        broken = enter(
            stack, create_app(MOCK_SETTINGS, clock=ManualClock(), spec=spec), crashes_allowed=False
        )
        found = first_difference(contestants[Keys.ANY].reference, broken, json_submits)
    width = json.loads(found.body)["width"]
    assert json.loads(found.body) == {"width": width}
    assert 1440 < width <= 2048 and width % 32 == 0


def drifted_mock(
    stack: contextlib.ExitStack, published: Published, drift: Callable[[dict[str, Any]], None]
) -> Contestant:
    """A mock serving ``published`` after ``drift`` changed its document."""
    document = json.loads(published.spec.read_bytes())
    drift(document["components"]["schemas"])
    spec = parse_spec(json.dumps(document).encode())
    return enter(
        stack, create_app(MOCK_SETTINGS, clock=ManualClock(), spec=spec), crashes_allowed=False
    )


def undamaged_submits(path: str, model: type[BaseModel]) -> st.SearchStrategy[Exchange]:
    """Bodies for ``model`` as sent (UTF-8 JSON text, whole): a drifted field shows sooner."""
    return json_texts(model).map(
        lambda text: Exchange("POST", path, (), JSON_KEYED, text.encode("utf-8", "surrogatepass"))
    )


def test_a_mock_whose_new_endpoint_drifts_is_caught_with_a_minimal_body(arena: Arena) -> None:
    # Deliberately broken: FLUX.2 [pro]'s safety_tolerance tops out at 4, not 5.
    def drift(schemas: dict[str, Any]) -> None:
        schemas["Flux2Inputs"]["properties"]["safety_tolerance"]["maximum"] = 4

    path = "/v1/flux-2-pro"
    with contextlib.ExitStack() as stack:
        broken = drifted_mock(stack, APRIL_2026, drift)
        reference = arena.contestants(APRIL_2026, Keys.ANY).reference
        strategy = undamaged_submits(path, APRIL_2026.generation(path).body)
        found = first_difference(reference, broken, strategy)
    # Shrunk to that member, just past the drifted bound, beside at most the prompt: hypothesis
    # usually drops the prompt too (a missing one is refused alike on both sides), but its
    # shrinker works to a time budget that a slow machine can exhaust first.
    body = json.loads(found.body)
    assert (found.path, set(body) - {"prompt"}) == (path, {"safety_tolerance"})
    assert 4 < body["safety_tolerance"] <= 6


def test_a_mock_whose_video_mode_drifts_is_caught_with_a_minimal_body(arena: Arena) -> None:
    # Deliberately broken: a text-to-video clip lasts at most 15 s, not 20.
    def drift(schemas: dict[str, Any]) -> None:
        schemas["Flux3VideoT2VInputs"]["properties"]["duration"]["anyOf"][0]["maximum"] = 15

    path = "/v1/flux-3-video"
    with contextlib.ExitStack() as stack:
        reference = arena.contestants(OCTOBER_2026, Keys.ANY).reference
        broken = drifted_mock(stack, OCTOBER_2026, drift)
        strategy = undamaged_submits(path, OCTOBER_2026.generation(path).body)
        found = first_difference(reference, broken, strategy)
    body = json.loads(found.body)
    assert found.path == path
    assert (body["mode"], set(body) - {"prompt"}) == ("t2v", {"mode", "duration"})
    assert 15 < body["duration"] <= 21


# -- FastAPI's and Starlette's edges a client can see, one at a time ---------------------------

PARSE_ERROR = b'{"detail":"There was an error parsing the body"}'
METHOD_NOT_ALLOWED = b'{"detail":"Method Not Allowed"}'
CRASH = b"Internal Server Error"
TASK_NOT_FOUND = (
    b'{"id":"x","status":"Task not found","result":null,"progress":null,"details":null,'
    b'"preview":null}'
)
TEXT = (("x-key", GOOD_KEY.encode()), ("content-type", b"text/plain"))


def submit(body: bytes, headers: tuple[tuple[str, bytes], ...] = JSON_KEYED) -> Exchange:
    return Exchange("POST", SUBMIT, (), headers, body)


def error(kind: str, field: str, msg: str, given: str, ctx: str | None = None) -> bytes:
    """A 422 body of one error, exactly as FastAPI writes it (``given`` is JSON text)."""
    tail = f',"ctx":{ctx}' if ctx else ""
    return (
        f'{{"detail":[{{"type":"{kind}","loc":["body","{field}"],"msg":"{msg}",'
        f'"input":{given}{tail}}}]}}'
    ).encode()


DIGITS = "9" * 4300
WIDE = "32" + "0" * 4298
"""A multiple of 32 with 4300 digits."""
EDGES = [
    pytest.param(
        Exchange("POST", SUBMIT + "/", (), JSON_KEYED, b"{}"), 307, b"",
        {"location": "http://testserver/v1/flux-pro-1.1"}, id="trailing-slash-redirect",
    ),
    pytest.param(
        Exchange("GET", RESULT + "/", (("id", "x"),)), 307, b"",
        {"location": "http://testserver/v1/get_result?id=x"}, id="redirect-keeps-the-query",
    ),
    pytest.param(
        Exchange("HEAD", RESULT, (("id", "x"),)), 405, b"", {"allow": "GET"},
        id="head-is-not-implied-by-get",
    ),
    pytest.param(
        Exchange("HEAD", SUBMIT, (), JSON_KEYED, b"{}"), 405, b"", {"allow": "POST"},
        id="head-on-submit",
    ),
    pytest.param(
        Exchange("OPTIONS", SUBMIT, (), JSON_KEYED), 405, METHOD_NOT_ALLOWED, {"allow": "POST"},
        id="options-no-cors-preflight",
    ),
    pytest.param(
        Exchange("OPTIONS", CREDITS, (), JSON_KEYED), 405, METHOD_NOT_ALLOWED, {"allow": "GET"},
        id="options-on-credits",
    ),
    pytest.param(Exchange("POST", "/openapi.json"), 405, METHOD_NOT_ALLOWED, {},
                 id="post-to-the-spec"),
    pytest.param(submit(b'{"prompt": "\xff"}'), 400, PARSE_ERROR, {}, id="invalid-utf-8-json"),
    pytest.param(submit(b"\xff\xfe{}", TEXT), 500, CRASH, {}, id="invalid-utf-8-plain-text"),
    pytest.param(submit(b'{"width": NaN}'), 500, CRASH, {}, id="nan-in-a-field"),
    pytest.param(submit(b'{"seed": Infinity}'), 500, CRASH, {}, id="infinity-in-a-field"),
    pytest.param(submit(b'{"width": 1e400}'), 500, CRASH, {}, id="overflow-to-infinity"),
    pytest.param(submit(b'{"steps": NaN, "guidance": -Infinity}'), 200, None, {},
                 id="nan-in-an-ignored-field"),
    pytest.param(submit(b'{"width": "\\ud800"}'), 500, CRASH, {}, id="lone-surrogate"),
    pytest.param(submit(f'{{"seed": {DIGITS}}}'.encode()), 200, None, {},
                 id="seed-of-4300-digits"),
    pytest.param(submit(f'{{"seed": 1{DIGITS}}}'.encode()), 400, PARSE_ERROR, {},
                 id="integer-of-4301-digits"),
    pytest.param(
        submit(f'{{"width": {WIDE}}}'.encode()), 422,
        error("less_than_equal", "width", "Input should be less than or equal to 1440", WIDE,
              '{"le":1440}'),
        {}, id="width-of-4300-digits",
    ),
    pytest.param(submit(b'{"width": 1000, "width": 1024}'), 200, None, {},
                 id="duplicate-keys-last-wins"),
    pytest.param(
        submit(b'{"width": 1024, "width": 1000}'), 422,
        error("multiple_of", "width", "Input should be a multiple of 32", "1000",
              '{"multiple_of":32}'),
        {}, id="duplicate-keys-last-loses",
    ),
    pytest.param(Exchange("POST", SUBMIT, (("width", "1000"), ("id", "x")), JSON_KEYED, b"{}"),
                 200, None, {}, id="query-string-on-post-is-ignored"),
    pytest.param(Exchange("GET", RESULT, (("id", "x"),), JSON_KEYED, b"{not json"), 404,
                 TASK_NOT_FOUND, {}, id="body-on-get-is-not-read"),
    pytest.param(Exchange("GET", CREDITS, (), JSON_KEYED, b"{not json"), 200, None, {},
                 id="body-on-credits-is-not-read"),
    pytest.param(submit(b'{"prompt": ' + b"[" * 900 + b"]" * 900 + b"}"), 422, None, {},
                 id="nested-900-deep"),
    pytest.param(submit(b"[" * 100_000), 400, PARSE_ERROR, {}, id="nested-too-deep-to-decode"),
    pytest.param(submit(b'{"width": 1000}', (("content-type", b"application/json"),)), 401,
                 b'{"detail":"Not authenticated"}', {"www-authenticate": "APIKey"},
                 id="missing-key-before-the-body"),
    pytest.param(submit(b'{"width": ', (("content-type", b"application/json"),)), 422,
                 b'{"detail":[{"type":"json_invalid","loc":["body",10],"msg":"JSON decode error",'
                 b'"input":{},"ctx":{"error":"Expecting value"}}]}', {},
                 id="malformed-json-before-the-key"),
]  # fmt: skip


@pytest.mark.parametrize(("exchange", "status", "body", "headers"), EDGES)
def test_fastapis_edges_are_the_mocks(
    contestants: dict[Keys, Contestants],
    exchange: Exchange,
    status: int,
    body: bytes | None,
    headers: dict[str, str],
) -> None:
    answer = answered_as_fastapi(contestants[Keys.ANY], exchange)
    assert answer.status == status
    if body is not None:
        assert answer.body == body
    for name, value in headers.items():
        assert answer.header(name) == value


@pytest.mark.parametrize(
    ("body", "headers", "default_answer"),
    [
        (b'{"width": NaN}', JSON_KEYED,
         error("finite_number", "width", "Input should be a finite number", '"NaN"')),
        (b"\xff\xfe{}", TEXT,
         b'{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a '
         b'valid dictionary or object to extract fields from","input":"\xef\xbf\xbd\xef\xbf\xbd'
         b'{}"}]}'),
        (b'{"width": "\\ud800"}', JSON_KEYED,
         error("string_unicode", "width",
               "Input should be a valid string, unable to parse raw data as a unicode string",
               '"\ufffd"')),
    ],
)  # fmt: skip
def test_where_fastapi_crashes_the_default_mock_reports_the_value(
    contestants: dict[Keys, Contestants],
    body: bytes,
    headers: tuple[tuple[str, bytes], ...],
    default_answer: bytes,
) -> None:
    apps = contestants[Keys.ANY]
    exchange = submit(body, headers)
    assert answered_as_fastapi(apps, exchange).status == 500
    answer = apps.default_mock.answer(exchange)
    assert (answer.status, answer.body) == (422, default_answer)
