"""The oracle: BFL's FastAPI 0.128.0 server and the mock, side by side, in process.

``reference_app`` is BFL's server as FastAPI would run it: for the bundled spec, with
its model written by hand; for each spec BFL published, serving every generation
endpoint with the models generated from that spec (``reference_models``). The mock runs
with ``framework_500s=True`` beside it, so it mirrors FastAPI's own crashes; the mock's
default must answer exactly what a reference whose renderer spells out NaN, undecodable
bytes and lone surrogates answers, which is the one deliberate difference (README,
"Faithful to FastAPI 0.128.0"). Both answer alike, save where a documented business rule
decides (``BUSINESS_RULES``): the same status, headers and bytes, and for a 200 (whose
ids are random) the same shape.

The rate-limit headers of polls are not FastAPI's and are left out of the comparison;
http/test_response_fidelity.py checks them against the live captures. Imported only where
the pinned FastAPI is installed (``support.fastapi_oracle_missing``): the reference is
written with it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from contracts import Contract
from mockserver.clock import ManualClock
from mockserver.domain.endpoints import load_table
from mockserver.errors import SpecError
from mockserver.http.app import create_app
from mockserver.settings import MockSettings, SubmitCost, Timing
from mockserver.spec.reading import load_spec
from mockserver.state.poll_windows import (
    LIMIT_HEADER,
    REMAINING_HEADER,
    RESET_HEADER,
    RETRY_AFTER_HEADER,
)

from exchange import KNOWN_TASK, Answer, Exchange, send, shape
from reference_app import create_published_reference_app, create_reference_app
from reference_models import APRIL_2026, OCTOBER_2026, Published
from request_strategies import GOOD_KEY
from support import SUBMIT

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
    # numbers some endpoints report on submit (http/test_endpoints.py checks those).
    credits=1e15,
    max_active_tasks=10**9,
    endpoint_table=UNLIMITED,
    submit_cost=SubmitCost.NULL,
    webhook_retry_delays=(),
)


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
