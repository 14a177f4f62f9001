"""The mock answers as BFL's FastAPI 0.128.0 server does: a differential test against an oracle.

``reference_app`` is BFL's server as FastAPI would run it: for the bundled spec, with
its model written by hand; for each spec BFL published, serving every generation
endpoint with the models generated from that spec (``reference_models``). The first
test shows the hand-written one is the real server's model: it regenerates the
published schemas (test_reference_models.py shows it for the generated ones). Then,
for every request hypothesis builds (``request_strategies``), the reference and the mock
answer in process and must agree, save where a documented business rule decides
(``BUSINESS_RULES``): the same status, headers and bytes, and for a 200
(whose ids are random) the same shape. The mock runs with ``framework_500s=True`` for
that, so it mirrors FastAPI's own crashes; the mock's default must answer exactly what a
reference whose renderer spells out NaN, undecodable bytes and lone surrogates answers,
which is the one deliberate difference (README, "Faithful to FastAPI 0.128.0").

The rate-limit headers of polls are not FastAPI's and are left out of the comparison;
test_response_fidelity.py checks them against the live captures.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import json
import random
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, find, given, note, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from starlette.testclient import TestClient

from contracts import Contract
from mockserver.clock import ManualClock
from mockserver.domain.endpoints import load_table
from mockserver.errors import SpecError
from mockserver.http.app import create_app
from mockserver.settings import MockSettings, SubmitCost, Timing
from mockserver.spec.reading import load_spec, parse_spec
from mockserver.state.poll_windows import (
    LIMIT_HEADER,
    REMAINING_HEADER,
    RESET_HEADER,
    RETRY_AFTER_HEADER,
)

from exchange import KNOWN_TASK, Answer, Exchange, send, shape
from reference_models import APRIL_2026, OCTOBER_2026, PUBLISHED, Published
from support import CREDITS, RESULT, ROOT, SUBMIT, fastapi_oracle_missing, profile_examples

if (missing := fastapi_oracle_missing()) is not None:
    pytest.skip(missing, allow_module_level=True)

# Only with the pinned FastAPI installed: both are written with it.
from reference_app import create_published_reference_app, create_reference_app
from request_strategies import (
    GOOD_KEY,
    JSON_KEYED,
    api_exchanges,
    endpoint_exchanges,
    exchanges,
    json_submits,
    json_texts,
    polls,
)

POLL_HEADERS = (LIMIT_HEADER, REMAINING_HEADER, RESET_HEADER, RETRY_AFTER_HEADER)
# A clock that never moves keeps every task at its first stage (Pending, progress null),
# which is what the reference answers for the tasks it issued.
UNLIMITED = Path(tempfile.mkdtemp(prefix="bfl-mock-oracle-")) / "endpoints.toml"
"""Rows lifting every endpoint's own active-task limit: the reference models none."""
UNLIMITED.write_text(
    "".join(
        f'["{path}"]\nactive_limit = {10**9}\n'
        for path in load_table().paths
        if load_table().for_path(path).active_limit is not None
    )
)
MOCK_SETTINGS = MockSettings(
    timing=Timing.TIME,
    seed=0,
    strict=True,
    framework_500s=True,
    # The reference app models neither credits, nor the active-task limits, nor the
    # numbers some endpoints report on submit (test_endpoints.py checks those).
    credits=1e15,
    max_active_tasks=10**9,
    endpoint_table=UNLIMITED,
    submit_cost=SubmitCost.NULL,
    webhook_retry_delays=(),
)
ORACLE_EXAMPLES = profile_examples() * 10
"""Each example is a handful of in-process requests: cheap, so this net is cast wide."""


class Keys(enum.Enum):
    """Both apps accept any non-empty key, or only ``GOOD_KEY``."""

    ANY = frozenset[str]()
    ALLOW_LIST = frozenset({GOOD_KEY})


@dataclasses.dataclass(frozen=True)
class Contestant:
    client: TestClient
    known_task: str
    """A task this app issued, polled wherever a request names ``KNOWN_TASK``."""

    def answer(self, exchange: Exchange) -> Answer:
        """The answer, with this app's own task id written ``KNOWN_TASK`` wherever it shows."""
        return send(self.client, exchange, self.known_task).replace(self.known_task, KNOWN_TASK)


@dataclasses.dataclass(frozen=True)
class Contestants:
    reference: Contestant
    mock: Contestant
    """The mock with ``framework_500s``: must answer exactly as the reference."""
    spelled_out_reference: Contestant
    default_mock: Contestant
    """The mock as it ships: must answer exactly as ``spelled_out_reference``."""


def enter(stack: contextlib.ExitStack, app: Any, *, crashes_allowed: bool) -> Contestant:
    """Start ``app`` in process, and have it issue the task that ``KNOWN_TASK`` names."""
    client = stack.enter_context(TestClient(app, raise_server_exceptions=not crashes_allowed))
    submitted = client.post(SUBMIT, json={}, headers={"x-key": GOOD_KEY})
    assert submitted.status_code == 200, submitted.text
    return Contestant(client, submitted.json()["id"])


def contest(
    stack: contextlib.ExitStack, keys: Keys, published: Published | None = None
) -> Contestants:
    """The four apps of one comparison: the bundled API's, or those of a published spec."""

    def reference(**options: Any) -> Contestant:
        if published is None:
            app = create_reference_app(api_keys=keys.value, **options)
        else:
            app = create_published_reference_app(published, api_keys=keys.value, **options)
        return enter(stack, app, crashes_allowed=True)  # FastAPI answers 500 by raising

    def mock(**settings: Any) -> Contestant:
        spec = None if published is None else published.spec
        app = create_app(
            MOCK_SETTINGS.replace(api_keys=keys.value, spec=spec, **settings), clock=ManualClock()
        )
        return enter(stack, app, crashes_allowed=False)  # the mock must never raise

    mocks = (mock(), mock(framework_500s=False))  # first: a spec the mock refuses stops here
    return Contestants(
        reference=reference(),
        mock=mocks[0],
        spelled_out_reference=reference(spell_out_unencodable=True),
        default_mock=mocks[1],
    )


@pytest.fixture(scope="module")
def contestants() -> Iterator[dict[Keys, Contestants]]:
    with contextlib.ExitStack() as stack:
        yield {keys: contest(stack, keys) for keys in Keys}


class Arena:
    """The apps of each published spec, built on first use and kept for the module.

    Built inside the test that first needs them, so that a mock that cannot serve a
    spec fails that test (and only it) with the mock's own error.
    """

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self._stack = stack
        self._built: dict[tuple[str, Keys], Contestants | SpecError] = {}

    def contestants(self, published: Published, keys: Keys) -> Contestants:
        if (published.name, keys) not in self._built:
            try:
                self._built[published.name, keys] = contest(self._stack, keys, published)
            except SpecError as error:
                self._built[published.name, keys] = error
        built = self._built[published.name, keys]
        if isinstance(built, SpecError):
            # Built once for the module: every example after the first fails alike (with a
            # fresh error, since raising one again would lengthen its traceback each time).
            raise SpecError(*built.args)
        return built


@pytest.fixture(scope="module")
def arena() -> Iterator[Arena]:
    with contextlib.ExitStack() as stack:
        yield Arena(stack)


def assert_same_answer(expected: Answer, actual: Answer) -> None:
    expected, actual = (
        expected.without_headers(*POLL_HEADERS),
        actual.without_headers(*POLL_HEADERS),
    )
    if (
        expected.status == actual.status == 200
        and expected.header("content-type") == "application/json"
    ):
        # Fresh ids on both sides: compare what a client's parser sees, and the headers.
        assert shape(actual.json()) == shape(expected.json()), (actual.body, expected.body)
        drop = ("content-length",)
        assert actual.without_headers(*drop).headers == expected.without_headers(*drop).headers
    else:
        assert actual == expected


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


# -- the differential property test ------------------------------------------------------------


def answered_as_fastapi(apps: Contestants, exchange: Exchange) -> Answer:
    """FastAPI's answer to ``exchange``, once both mocks are shown to answer as they must."""
    expected = apps.reference.answer(exchange)
    assert_same_answer(expected, apps.mock.answer(exchange))
    assert_same_answer(
        apps.spelled_out_reference.answer(exchange), apps.default_mock.answer(exchange)
    )
    return expected


@dataclasses.dataclass(frozen=True)
class BusinessRule:
    """One of the real API's answers that no schema states (endpoints.md documents each)."""

    name: str
    decides: Callable[[str, Any], bool]
    """Whether the rule decides a POST to this path with this body (parsed JSON)."""


def _spelled_out_mode(path: str, body: Any) -> bool:
    aliases = load_table().for_path(path).mode_aliases
    return isinstance(body, dict) and isinstance(body.get("mode"), str) and body["mode"] in aliases


RULE_CHECKS = tuple(
    (spec, Contract(spec)) for spec in (load_spec(OCTOBER_2026.spec), load_spec(APRIL_2026.spec))
)


def _refused_by_a_rule(path: str, body: Any) -> bool:
    for spec, contract in RULE_CHECKS:
        operation = next((op for op in spec.operations if op.path == path), None)
        if operation is not None:
            return contract.refused(operation, body)
    return False


BUSINESS_RULES: tuple[BusinessRule, ...] = (
    # The spec's description: "the spelled-out aliases are accepted anywhere the short
    # key is" (its discriminator alone would refuse them; README, choices).
    BusinessRule("spelled-out video mode", _spelled_out_mode),
    # The endpoint table's checks (canvas over 4 MP, draft at fhd, aspect ratio out of
    # range...), answered as a pydantic validator raising ValueError answers.
    BusinessRule("endpoint table check", _refused_by_a_rule),
)
"""The rules by which the mock may answer a request unlike the oracle, and the only ones.

The real API refuses some requests its schemas accept, by rules written in code beside
the models: an outpainting canvas or a deblur input over 4 MP, a draft video at a
resolution other than hd (endpoints.md). The oracle is FastAPI serving the models
alone, so it accepts them; a mock that implements such a rule answers them otherwise.
Each rule the mock implements is named here with the requests it decides. A request
the two answer differently must be decided by one of these rules, and is then counted
under that rule's name (hypothesis's statistics) instead of failing; every other
request must be answered alike.
"""


def deciding_rule(exchange: Exchange) -> BusinessRule | None:
    """The business rule that decides ``exchange``, if any does."""
    if exchange.method != "POST":
        return None
    try:
        body = json.loads(exchange.body)
    except ValueError:
        return None
    return next((rule for rule in BUSINESS_RULES if rule.decides(exchange.path, body)), None)


def differential(apps: Contestants, exchange: Exchange) -> None:
    # Printed for a failure: hypothesis's own report of the example comes out blank while
    # schemathesis's pytest plugin is loaded.
    note(f"request: {exchange!r}")
    try:
        answer = answered_as_fastapi(apps, exchange)
    except AssertionError:
        rule = deciding_rule(exchange)
        if rule is None:
            raise
        event(f"decided by a business rule: {rule.name}")
        return
    event(f"{exchange.method} {exchange.path}: {answer.status}")  # --hypothesis-show-statistics


@pytest.mark.property
@settings(max_examples=ORACLE_EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(keys=st.sampled_from(Keys), exchange=json_submits)
def test_the_mock_validates_every_body_as_fastapi_does(
    contestants: dict[Keys, Contestants], keys: Keys, exchange: Exchange
) -> None:
    differential(contestants[keys], exchange)


@pytest.mark.property
@settings(max_examples=ORACLE_EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(keys=st.sampled_from(Keys), exchange=exchanges)
def test_the_mock_answers_every_request_as_fastapi_does(
    contestants: dict[Keys, Contestants], keys: Keys, exchange: Exchange
) -> None:
    differential(contestants[keys], exchange)


# -- every generation endpoint of each spec BFL published -------------------------------------

PUBLISHED_EXAMPLES = profile_examples() * 5
"""Per published spec, on top of ENDPOINT_EXAMPLES for each of its endpoints alone."""
ENDPOINT_EXAMPLES = profile_examples()


def published_specs() -> list[Any]:
    return [pytest.param(published, id=published.name) for published in PUBLISHED]


def published_endpoints() -> list[Any]:
    return [
        pytest.param(
            published,
            generation.path,
            id=f"{published.name}:{generation.path}",
        )
        for published in PUBLISHED
        for generation in published.generations
    ]


@pytest.mark.property
@pytest.mark.parametrize("published", published_specs())
@settings(max_examples=PUBLISHED_EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(keys=st.sampled_from(Keys), data=st.data())
def test_the_mock_answers_every_published_endpoint_as_fastapi_does(
    arena: Arena, published: Published, keys: Keys, data: st.DataObject
) -> None:
    endpoints = [(generation.path, generation.body) for generation in published.generations]
    exchange = data.draw(api_exchanges(endpoints), label="exchange")
    differential(arena.contestants(published, keys), exchange)


@pytest.mark.property
@pytest.mark.parametrize(("published", "path"), published_endpoints())
@settings(max_examples=ENDPOINT_EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_mock_validates_each_published_endpoint_as_fastapi_does(
    arena: Arena, published: Published, path: str, data: st.DataObject
) -> None:
    generation = published.generation(path)
    exchange = data.draw(endpoint_exchanges(path, generation.body), label="exchange")
    differential(arena.contestants(published, Keys.ANY), exchange)


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
