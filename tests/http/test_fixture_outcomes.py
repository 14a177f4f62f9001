"""Each outcome, steered through the pytest fixture's Python API against the live server."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
import pytest

from mockserver.serving.server import MockServer

from support import SUBMIT, WebhookReceiver


def submit(mock: MockServer, prompt: str = "a fox", **fields: Any) -> httpx.Response:
    return httpx.post(
        mock.url + SUBMIT, json={"prompt": prompt, **fields}, headers={"x-key": mock.api_key}
    )


def final(submitted: httpx.Response, polls: int = 4) -> dict[str, Any]:
    """The task's body after ``polls`` polls."""
    url = submitted.json()["polling_url"]
    for _ in range(polls):
        last: dict[str, Any] = httpx.get(url).json()
    return last


@pytest.mark.parametrize(
    ("directives", "status", "details"),
    [
        ("content-moderated", "Content Moderated", {"Moderation Reasons": ["Safety Filter"]}),
        ("request-moderated=Image 2", "Request Moderated", {"Moderation Reasons": ["Image 2"]}),
        ("error=GPU on fire", "Error", {"error": "GPU on fire"}),
    ],
)
def test_outcome_for_one_test(
    bfl_mock: MockServer, directives: str, status: str, details: dict[str, Any]
) -> None:
    bfl_mock.scenario(directives)
    last = final(submit(bfl_mock))
    assert (last["status"], last["result"], last["details"]) == (status, None, details)


def test_the_scenario_does_not_leak_into_the_next_test(bfl_mock: MockServer) -> None:
    assert final(submit(bfl_mock))["status"] == "Ready"


def test_poll_fault_then_recovery(bfl_mock: MockServer) -> None:
    bfl_mock.scenario("poll-503=2")
    url = submit(bfl_mock).json()["polling_url"]
    answers = [httpx.get(url) for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 503, 200]
    assert answers[0].headers["retry-after"] == "1"


def test_submit_fault(bfl_mock: MockServer) -> None:
    bfl_mock.scenario("submit-500=1")
    first, second = submit(bfl_mock), submit(bfl_mock)
    assert (first.status_code, first.text, second.status_code) == (
        500,
        "Internal Server Error",
        200,
    )


def test_insufficient_credits(bfl_mock: MockServer) -> None:
    bfl_mock.set_credits(bfl_mock.api_key, 3.0)
    refused = submit(bfl_mock)
    assert (refused.status_code, refused.json()) == (402, {"detail": "Insufficient credits"})
    assert [c.status for c in bfl_mock.calls_where(path=SUBMIT)] == [402]


@pytest.mark.bfl_mock(max_active_tasks=1)
def test_too_many_active_tasks(bfl_mock: MockServer) -> None:
    assert submit(bfl_mock).status_code == 200
    refused = submit(bfl_mock)
    assert (refused.status_code, refused.headers["retry-after"]) == (429, "1")


def test_latency(bfl_mock: MockServer) -> None:
    bfl_mock.scenario("submit-latency=0.25")
    started = time.monotonic()
    assert submit(bfl_mock).status_code == 200
    assert time.monotonic() - started >= 0.25


def test_slow_image_download_arrives_whole(bfl_mock: MockServer) -> None:
    sample = final(submit(bfl_mock))["result"]["sample"]
    bfl_mock.scenario("image-slow=0.3")
    started = time.monotonic()
    with httpx.stream("GET", sample) as response:
        chunks = list(response.iter_raw())
    assert time.monotonic() - started >= 0.25
    assert len(b"".join(chunks)) == int(response.headers["content-length"])


def test_dropped_connection(bfl_mock: MockServer) -> None:
    bfl_mock.scenario("poll-drop")
    url = submit(bfl_mock).json()["polling_url"]
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(url)
    bfl_mock.scenario("")
    assert httpx.get(url).status_code == 200  # the server itself is fine


HTTP_DATE = r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT"
EXPIRED = (
    r'<\?xml version="1\.0" encoding="utf-8"\?><Error><Code>AuthenticationFailed</Code>'
    r"<Message>Server failed to authenticate the request\. Make sure the value of "
    r"Authorization header is formed correctly including the signature\.\n"
    r"RequestId:[0-9a-f-]{36}\nTime:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z</Message>"
    r"<AuthenticationErrorDetail>Signature not valid in the specified time frame: "
    rf"Start \[{HTTP_DATE}\] - Expiry \[{HTTP_DATE}\] - Current \[{HTTP_DATE}\]"
    r"</AuthenticationErrorDetail></Error>"
)
"""Azure's answer for an expired sample URL, word for word but the moments (and the request
id drawn from the moment it answered)."""


def test_expired_sample(bfl_mock: MockServer) -> None:
    bfl_mock.scenario("expired")
    sample = final(submit(bfl_mock))["result"]["sample"]
    expired = httpx.get(sample)
    assert (expired.status_code, expired.headers["x-ms-error-code"]) == (
        403,
        "AuthenticationFailed",
    )
    assert re.fullmatch(EXPIRED, expired.text), expired.text


def test_prompt_directive_and_header_on_the_live_server(bfl_mock: MockServer) -> None:
    assert final(submit(bfl_mock, "[mock:error]"))["status"] == "Error"
    faulted = httpx.get(
        bfl_mock.url + "/v1/get_result", params={"id": "x"}, headers={"x-bfl-mock": "poll-502"}
    )
    assert faulted.status_code == 502


def test_webhook_through_the_fixture(bfl_mock: MockServer) -> None:
    with WebhookReceiver() as receiver:
        task_id = submit(bfl_mock, webhook_url=receiver.url, webhook_secret="s").json()["id"]
        (delivery,) = bfl_mock.wait_for_deliveries(1)
    assert delivery.delivered and delivery.task_id == task_id
    assert json.loads(receiver.received[0].body)["status"] == "SUCCESS"


def test_webhook_delivery_failure_through_the_fixture(bfl_mock: MockServer) -> None:
    bfl_mock.scenario("webhook-lost")
    with WebhookReceiver() as receiver:
        submit(bfl_mock, webhook_url=receiver.url)
        (delivery,) = bfl_mock.wait_for_deliveries(1)
    assert delivery.skipped and receiver.received == []
