"""Hostile values: directives, admin bodies, deep JSON, clients that leave mid-upload.

Each is refused with a 4xx naming what is wrong, never a 500, and leaves nothing behind:
no task, no charge, no stored value.
"""

from __future__ import annotations

import logging
import math

import pydantic
import pytest
from starlette.testclient import TestClient

from support import AUTH, CREDITS, SUBMIT, SUBMITTED_KEYS, in_app

DEEP = "[" * 100_000 + "]" * 100_000
CREDITS_SHAPE = ' (send {"api_key": "<key>", "credits": <number>})'
MU = "lognormal needs mu <= 5.70 (a median of at most 300 s)"
NOT_FINITE = "is not a finite number"
NEGATIVE = "seconds must not be negative"


def nothing_created_or_charged(client: TestClient) -> None:
    assert client.get("/_mock/tasks").json() == []
    assert client.get(CREDITS, headers=AUTH).json() == {"credits": 1000.0}


@pytest.mark.parametrize(
    ("directive", "problem"),
    [
        ("latency=lognormal:1000:1", MU),
        ("latency=lognormal:0:nan", f"'nan' {NOT_FINITE}"),
        ("latency=lognormal:1:11", "lognormal needs 0 <= sigma <= 10"),
        ("latency=nan", f"'nan' {NOT_FINITE}"),
        ("latency=inf", f"'inf' {NOT_FINITE}"),
        ("latency=-inf", f"'-inf' {NOT_FINITE}"),
        ("latency=1e400", f"'1e400' {NOT_FINITE}"),
        ("latency=-0.5", NEGATIVE),
        ("latency=uniform:-1:1", NEGATIVE),
        ("latency=uniform:2:1", "uniform needs a <= b"),
        ("slow=inf", f"'inf' {NOT_FINITE}"),
        ("slow=-1", NEGATIVE),
        ("poll-latency=nan", f"'nan' {NOT_FINITE}"),
    ],
)
def test_bad_directive_values_are_400s_naming_the_directive_and_create_nothing(
    client: TestClient, directive: str, problem: str
) -> None:
    expected = {"detail": f"bfl-mock: bad directive {directive!r}: {problem}"}
    by_header = client.post(SUBMIT, json={}, headers={**AUTH, "x-bfl-mock": directive})
    assert (by_header.status_code, by_header.json()) == (400, expected)
    in_prompt = client.post(SUBMIT, json={"prompt": f"a fox [mock:{directive}]"}, headers=AUTH)
    assert (in_prompt.status_code, in_prompt.json()) == (400, expected)
    nothing_created_or_charged(client)
    for_server = client.put("/_mock/scenario", content=directive)
    assert (for_server.status_code, for_server.json()) == (
        400,
        {"detail": f"bad directive {directive!r}: {problem}"},
    )
    assert client.get("/_mock/scenario").json()["faults"] == {}


def test_twenty_five_refused_submits_do_not_lock_the_key(client: TestClient) -> None:
    for _ in range(25):
        refused = client.post(SUBMIT, json={}, headers={**AUTH, "x-bfl-mock": "latency=nan"})
        assert refused.status_code == 400
    accepted = client.post(SUBMIT, json={}, headers=AUTH)
    assert (accepted.status_code, sorted(accepted.json())) == (200, SUBMITTED_KEYS)


def test_the_largest_latencies_are_taken(client: TestClient) -> None:
    scenario = client.put("/_mock/scenario", content="latency=lognormal:5.7:10, slow=300")
    assert (scenario.status_code, scenario.json()["faults"]["submit"]) == (
        200,
        {"latency": {"kind": "lognormal", "a": 5.7, "b": 10.0}, "slow": 300.0},
    )


@pytest.mark.parametrize(
    ("directives", "fault"),
    [
        ("latency=301, slow=1e9", {"latency": {"kind": "fixed", "a": 300.0, "b": 0.0}}),
        ("latency=uniform:0:1e9", {"latency": {"kind": "uniform", "a": 0.0, "b": 300.0}}),
        ("slow=1e9", {"slow": 300.0}),
    ],
)
def test_longer_delays_are_cut_to_300_seconds(
    client: TestClient, directives: str, fault: dict[str, object]
) -> None:
    scenario = client.put("/_mock/scenario", content=directives)
    expected = {**fault, "slow": 300.0} if "slow" in directives else fault
    assert (scenario.status_code, scenario.json()["faults"]["submit"]) == (200, expected)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ('{"api_key": "k", "credits": NaN}', "credits: Input should be a finite number"),
        ('{"api_key": "k", "credits": 1e400}', "credits: Input should be a finite number"),
        ('{"api_key": "k", "credits": -Infinity}', "credits: Input should be a finite number"),
        ('{"api_key": "k", "credits": "nan"}', "credits: Input should be a valid number"),
        ('{"api_key": "k", "credits": "-inf"}', "credits: Input should be a valid number"),
        ('{"api_key": "k", "credits": "5"}', "credits: Input should be a valid number"),
        ('{"api_key": "k", "credits": true}', "credits: Input should be a valid number"),
        (
            '{"api_key": "k", "credits": -1}',
            "credits: Input should be greater than or equal to 0",
        ),
        ('{"api_key": 7, "credits": 1}', "api_key: Input should be a valid string"),
        ('{"api_key": "", "credits": 1}', "api_key: String should have at least 1 character"),
        ('{"credits": 3}', "api_key: Field required"),
        ("[]", "body: Input should be an object"),
        ("not json", "body: Invalid JSON: expected ident at line 1 column 2"),
        (
            '{"api_key": "k", "credits": ' + DEEP + "}",
            "body: Invalid JSON: recursion limit exceeded at line 1 column 229",
        ),
    ],
)
def test_bad_credit_bodies_are_400s_and_store_nothing(
    client: TestClient, body: str, problem: str
) -> None:
    response = client.put("/_mock/credits", content=body)
    assert (response.status_code, response.json()) == (400, {"detail": problem + CREDITS_SHAPE})
    assert client.get(CREDITS, headers={"x-key": "k"}).json() == {"credits": 1000.0}
    nothing_created_or_charged(client)


@pytest.mark.parametrize("credits", [math.nan, math.inf, -1.0])
def test_the_python_api_refuses_the_same_credits(client: TestClient, credits: float) -> None:
    with pytest.raises(pydantic.ValidationError, match="credits"):
        in_app(client, client.app.control.set_credits("k", credits))  # type: ignore[attr-defined]
    assert client.get(CREDITS, headers={"x-key": "k"}).json() == {"credits": 1000.0}


def test_a_deep_scenario_body_is_a_400(client: TestClient) -> None:
    response = client.put("/_mock/scenario", content='{"directives": ' + DEEP + "}")
    assert (response.status_code, response.json()) == (
        400,
        {
            "detail": "body: Invalid JSON: recursion limit exceeded at line 1 column 216 "
            '(send directives as text, or {"directives": "<directives>"})'
        },
    )


@pytest.mark.parametrize("path", [SUBMIT, "/_mock/credits", "/_mock/scenario"])
def test_a_client_leaving_mid_upload_gets_no_answer_and_logs_nothing(
    client: TestClient, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The app is called as a server would call it when the client closes half-way."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST" if path == SUBMIT else "PUT",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", b"1000"),
            (b"x-key", b"test-key"),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    messages = [
        {"type": "http.request", "body": b'{"prompt": "a f', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[object] = []

    async def receive() -> object:
        return messages.pop(0)

    async def send(message: object) -> None:
        sent.append(message)

    with caplog.at_level(logging.WARNING):
        in_app(client, client.app(scope, receive, send))  # type: ignore[arg-type]
    assert (sent, caplog.records) == ([], [])
    nothing_created_or_charged(client)
