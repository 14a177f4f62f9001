"""The mock's answers on the wire, against what was recorded from the real API.

property/test_fastapi_oracle_properties.py shows the mock frames every request as FastAPI
does. What FastAPI does not decide is checked here against live captures
(research/bfl-api.md sections 1 to 4, maruel/genai flux-dev cassette of 2025-12-18):
BFL's bodies byte for byte, key order, the progress sequence, the rate-limit headers of
polls, the 401/403/404 answers.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from starlette.testclient import TestClient

from mockserver.clock import ManualClock
from mockserver.settings import Timing

from exchange import shape
from support import AUTH, RESULT, SUBMIT, ClientFactory

CAPTURED_ID = "4ca5b657-4b04-4afc-9c4b-7445c578d324"
CAPTURED_SUBMIT = (
    '{"id":"4ca5b657-4b04-4afc-9c4b-7445c578d324","polling_url":"https://api.eu4.bfl.ai/v1/'
    'get_result?id=4ca5b657-4b04-4afc-9c4b-7445c578d324","cost":null,"input_mp":null,'
    '"output_mp":null}'
)
CAPTURED_PENDING = (
    '{"id":"4ca5b657-4b04-4afc-9c4b-7445c578d324","status":"Pending","result":null,'
    '"progress":0.1,"details":null,"preview":null}'
)
CAPTURED_READY = (
    '{"id":"4ca5b657-4b04-4afc-9c4b-7445c578d324","status":"Ready","result":{"sample":'
    '"https://bfldeliveryprodeu4.blob.core.windows.net/results/8e/3470338ce49379/'
    "8ce49379183c4d1eaf3900e161a9839e/sample.jpeg?se=2025-12-18T15%3A49%3A07Z&sp=r&"
    'sv=2024-11-04&sr=b&rsct=image/jpeg&sig=TCGRVM3fn0TzwZwvuRPy5uRe2ySXpdoQgJJebQcaINw%3D",'
    '"prompt":"<prompt>","seed":42,"start_time":1766072345.188173,"end_time":1766072347.676069,'
    '"duration":2.487895965576172},"progress":null,"details":null,"preview":null}'
)
CAPTURED_POLL_INTERVAL = 0.1165
"""Seconds between the captured polls (115 ms each, back to back)."""
# Retry-After and X-Ratelimit-Remaining of the 20 captured polls, in order.
CAPTURED_RETRY_AFTER = ["1"] * 5 + ["0"] * 4 + ["1"] * 5 + ["0"] * 4 + ["1"] * 2
CAPTURED_REMAINING = [str(n) for n in [*range(1199, 1190, -1), *range(1199, 1190, -1), 1199, 1198]]
RATE_LIMIT_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


def submitted(client: TestClient, body: dict[str, Any] | None = None) -> str:
    response = client.post(SUBMIT, json=body or {}, headers=AUTH)
    assert response.status_code == 200, response.text
    task_id: str = response.json()["id"]
    return task_id


def test_submit_answer_is_the_captured_body(make_client: ClientFactory) -> None:
    client = make_client(public_url="https://api.eu4.bfl.ai")
    response = client.post(SUBMIT, json={"prompt": "a fox", "seed": 42}, headers=AUTH)
    task_id = response.json()["id"]
    assert response.text == CAPTURED_SUBMIT.replace(CAPTURED_ID, task_id)
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-length"] == str(len(CAPTURED_SUBMIT))
    assert not {"retry-after", *RATE_LIMIT_HEADERS} & set(response.headers)


def test_pending_poll_is_the_captured_body(make_client: ClientFactory, clock: ManualClock) -> None:
    client = make_client(timing=Timing.TIME, generation_seconds=11.0)
    task_id = submitted(client)
    clock.advance(1.0)
    response = client.get(RESULT, params={"id": task_id})
    assert response.text == CAPTURED_PENDING.replace(CAPTURED_ID, task_id)
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-length"] == str(len(CAPTURED_PENDING))


def test_ready_poll_has_the_captured_shape(make_client: ClientFactory) -> None:
    client = make_client(polls_until_ready=0)
    task_id = submitted(client, {"prompt": "<prompt>", "seed": 42})
    ready = client.get(RESULT, params={"id": task_id}).json()
    assert shape(ready) == shape(json.loads(CAPTURED_READY))
    assert ready["result"]["seed"] == 42


def test_progress_rises_in_tenths_then_ready_at_the_captured_poll_rate(
    make_client: ClientFactory, clock: ManualClock
) -> None:
    client = make_client(timing=Timing.TIME, generation_seconds=2.487895965576172)
    task_id = submitted(client)
    seen: list[tuple[str, float | None]] = []
    while not seen or seen[-1][0] == "Pending":
        polled = client.get(RESULT, params={"id": task_id}).json()
        seen.append((polled["status"], polled["progress"]))
        clock.advance(CAPTURED_POLL_INTERVAL)
    progress = [value for _, value in seen[:-1]]
    queued = progress.index(0.1)
    finishing = len(progress) - progress[::-1].index(1.0)
    assert queued >= 1 and progress[:queued] == [None] * queued
    # As captured: tenths, repeated when polled often, then null just before Ready.
    rising = [value for value in progress[queued:finishing] if value is not None]
    assert rising == progress[queued:finishing] and rising == sorted(rising)
    assert len(set(rising)) == 10 < len(rising)
    assert set(rising) == {step / 10 for step in range(1, 11)}
    assert progress[finishing:] and set(progress[finishing:]) == {None}
    assert seen[-1] == ("Ready", None)


def test_poll_rate_limit_headers_replay_the_capture(
    make_client: ClientFactory, clock: ManualClock
) -> None:
    client = make_client(polls_until_ready=100)
    task_id = submitted(client)
    retry_after, remaining = [], []
    for _ in CAPTURED_RETRY_AFTER:
        response = client.get(RESULT, params={"id": task_id})
        retry_after.append(response.headers["retry-after"])
        remaining.append(response.headers["x-ratelimit-remaining"])
        assert response.headers["x-ratelimit-limit"] == "1200"
        reset = float(response.headers["x-ratelimit-reset"])
        assert reset == clock.now() + int(response.headers["retry-after"])
        clock.advance(CAPTURED_POLL_INTERVAL)
    assert retry_after == CAPTURED_RETRY_AFTER
    assert remaining == CAPTURED_REMAINING


def test_each_client_has_its_own_poll_window(make_client: ClientFactory) -> None:
    client = make_client()
    task_id = submitted(client)
    for _ in range(3):
        client.get(RESULT, params={"id": task_id})
    with contextlib.closing(TestClient(client.app, client=("192.0.2.7", 50000))) as other:
        first = other.get(RESULT, params={"id": task_id})
    assert first.headers["x-ratelimit-remaining"] == "1199"
    assert client.get(RESULT, params={"id": task_id}).headers["x-ratelimit-remaining"] == "1196"


def test_unknown_task_is_the_captured_404_with_the_poll_headers(client: TestClient) -> None:
    response = client.get(RESULT, params={"id": CAPTURED_ID})
    assert response.status_code == 404
    assert response.text == (
        f'{{"id":"{CAPTURED_ID}","status":"Task not found","result":null,"progress":null,'
        '"details":null,"preview":null}'
    )
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-ratelimit-remaining"] == "1199"


def test_a_poll_refused_before_the_handler_has_no_poll_headers(client: TestClient) -> None:
    response = client.get(RESULT)
    assert response.status_code == 422
    assert not {"retry-after", *RATE_LIMIT_HEADERS} & set(response.headers)


def test_missing_key_is_fastapis_401_with_the_apikey_challenge(client: TestClient) -> None:
    response = client.post(SUBMIT, json={})
    assert response.status_code == 401
    assert response.content == b'{"detail":"Not authenticated"}'
    assert response.headers["www-authenticate"] == "APIKey"
    assert response.headers["content-type"] == "application/json"


def test_unknown_key_is_the_captured_403(make_client: ClientFactory) -> None:
    response = make_client(api_keys=frozenset({"good"})).post(
        SUBMIT, json={}, headers={"x-key": "bad"}
    )
    assert response.status_code == 403
    assert response.content == b'{"detail":"Not authenticated - Invalid Authentication"}'
    assert response.headers["content-length"] == "55"  # as captured
    assert response.headers["content-type"] == "application/json"
    assert "www-authenticate" not in response.headers


def test_a_prompt_with_a_lone_surrogate_comes_back_with_a_replacement_character(
    make_client: ClientFactory,
) -> None:
    # JSON lets a client send "\ud800"; pydantic accepts it; UTF-8 cannot carry it back.
    client = make_client(polls_until_ready=0)
    response = client.post(
        SUBMIT,
        content=b'{"prompt": "fox \\ud800"}',
        headers=AUTH | {"content-type": "application/json"},
    )
    ready = client.get(RESULT, params={"id": response.json()["id"]}).json()
    assert ready["result"]["prompt"] == "fox \ufffd"
    assert client.get(ready["result"]["sample"]).status_code == 200
