"""Every outcome a client must handle, chosen by prompt directive, header or server scenario."""

from __future__ import annotations

import random
import threading
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from mockserver.domain.scenarios import DirectiveError, Fault, Latency, Target, parse
from mockserver.errors import SettingsError
from mockserver.http.app import create_app
from mockserver.settings import MockSettings, Timing
from mockserver.spec.openapi import TaskStatus

from support import (
    AUTH,
    CREDITS,
    RESULT,
    SUBMIT,
    TASK_NOT_FOUND,
    WAIT_SECONDS,
    ClientFactory,
    HeldClock,
    accepted,
    in_app,
)


def submit(client: TestClient, prompt: str = "a fox", **headers: str) -> httpx.Response:
    return client.post(SUBMIT, json={"prompt": prompt}, headers=AUTH | headers)


def poll_all(client: TestClient, task_id: str, times: int) -> list[dict[str, Any]]:
    return [client.get(RESULT, params={"id": task_id}).json() for _ in range(times)]


# --- parsing -------------------------------------------------------------------------


def test_directives_parse_into_a_typed_scenario() -> None:
    scenario = parse("content-moderated=Violence;Gore, poll-503=2, image-latency=uniform:0.1:0.2")
    assert scenario.outcome is TaskStatus.CONTENT_MODERATED
    assert scenario.detail == ("Violence", "Gore")
    assert scenario.fault(Target.POLL) == Fault(status=503, times=2)
    assert scenario.fault(Target.IMAGE) == Fault(latency=Latency("uniform", 0.1, 0.2))
    assert scenario.fault(Target.SUBMIT) == Fault()
    everywhere = parse("latency=0.5, drop")
    assert all(
        everywhere.fault(t) == Fault(latency=Latency("fixed", 0.5), drop=True) for t in Target
    )
    assert parse("insufficient-credits") == parse("submit-402")
    assert parse("rate-limited") == parse("submit-429")


def test_later_and_more_specific_directives_win() -> None:
    base = parse("error=boom, poll-500, latency=1")
    override = parse("ready, poll-latency=2")
    merged = base.merged(override)
    assert merged.outcome is TaskStatus.READY and merged.detail is None
    assert merged.fault(Target.POLL) == Fault(status=500, latency=Latency("fixed", 2.0))
    assert merged.fault(Target.SUBMIT) == Fault(latency=Latency("fixed", 1.0))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("explode", "unknown directive 'explode'; known directives: ready, request-moderated"),
        ("poll-200", "only 4xx and 5xx statuses can be injected"),
        ("poll-599", "599 is not a valid HTTPStatus"),
        ("poll-503=0", "times must be at least 1"),
        ("latency=-1", "seconds must not be negative"),
        ("latency=uniform:2:1", "uniform needs a <= b"),
        ("latency=lognormal:0:-1", "lognormal needs 0 <= sigma <= 10"),
        ("slow=nan", "'nan' is not a finite number"),
        ("drop=3", "unknown directive 'drop=3'"),
        ("latency", "unknown directive 'latency'"),
    ],
)
def test_bad_directives_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(DirectiveError, match=message.replace("(", r"\(")):
        parse(text)


def test_latency_draws() -> None:
    rng = random.Random(1)
    assert Latency("fixed", 0.3).draw(rng) == 0.3
    assert 0.1 <= Latency("uniform", 0.1, 0.2).draw(rng) <= 0.2
    assert Latency("lognormal", 0.0, 0.0).draw(rng) == 1.0
    assert Latency("lognormal", 50.0, 0.0).draw(rng) == 300.0  # capped


# --- outcomes over HTTP ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("directive", "final", "details"),
    [
        ("request-moderated", "Request Moderated", {"Moderation Reasons": ["Safety Filter"]}),
        ("content-moderated=Violence", "Content Moderated", {"Moderation Reasons": ["Violence"]}),
        ("error=Invalid or corrupted image input", "Error",
         {"error": "Invalid or corrupted image input"}),
        ("error", "Error", {"error": "Generation failed"}),
    ],
)  # fmt: skip
def test_outcome_directive_in_the_prompt(
    client: TestClient, directive: str, final: str, details: dict[str, Any]
) -> None:
    task_id = submit(client, f"a fox [mock:{directive}]").json()["id"]
    seen = poll_all(client, task_id, 4)
    first_final = next(s for s in seen if s["status"] != "Pending")
    assert first_final == {
        "id": task_id,
        "status": final,
        "result": None,
        "progress": None,
        "details": details,
        "preview": None,
    }
    if final == "Request Moderated":
        assert seen[0] == first_final  # refused at submission: final from the first poll
    else:
        assert [s["status"] for s in seen[:2]] == ["Pending", "Pending"]


def test_outcomes_are_not_charged(client: TestClient) -> None:
    for directive in ("request-moderated", "content-moderated", "error"):
        task_id = submit(client, f"[mock:{directive}]").json()["id"]
        poll_all(client, task_id, 4)
    assert client.get(CREDITS, headers=AUTH).json() == {"credits": 1000.0}


def test_header_directive_applies_to_its_request(client: TestClient) -> None:
    task_id = submit(client, **{"x-bfl-mock": "content-moderated"}).json()["id"]
    assert poll_all(client, task_id, 4)[-1]["status"] == "Content Moderated"
    unaffected = submit(client).json()["id"]
    assert poll_all(client, unaffected, 4)[-1]["status"] == "Ready"


def test_prompt_beats_header_beats_server(make_client: ClientFactory) -> None:
    client = make_client(scenario="error")
    plain = submit(client).json()["id"]
    header = submit(client, **{"x-bfl-mock": "content-moderated"}).json()["id"]
    prompt = submit(client, "[mock:ready]", **{"x-bfl-mock": "content-moderated"}).json()["id"]
    assert [poll_all(client, t, 4)[-1]["status"] for t in (plain, header, prompt)] == [
        "Error",
        "Content Moderated",
        "Ready",
    ]


@pytest.mark.parametrize(
    ("prompt", "tolerance", "final", "reasons"),
    [
        ("an nsfw fox", 2, "Request Moderated", ["Safety Filter"]),
        ("an nsfw fox", 6, "Ready", None),
        ("a nude statue", 3, "Request Moderated", ["Sexual Content"]),
        ("a nude statue", 4, "Ready", None),
        ("gore in the snow", 2, "Content Moderated", ["Violence"]),
        ("blood orange", 2, "Ready", None),
        ("blood orange", 1, "Content Moderated", ["Violence"]),
        ("a logo", 0, "Content Moderated", ["Derivative Works Filter"]),
        ("nsfw gore", 0, "Request Moderated", ["Safety Filter"]),
    ],
)
def test_moderation_depends_on_safety_tolerance(
    client: TestClient, prompt: str, tolerance: int, final: str, reasons: list[str] | None
) -> None:
    body = {"prompt": prompt, "safety_tolerance": tolerance}
    task_id = client.post(SUBMIT, json=body, headers=AUTH).json()["id"]
    last = poll_all(client, task_id, 4)[-1]
    assert last["status"] == final
    assert last["details"] == (None if reasons is None else {"Moderation Reasons": reasons})


# --- faults ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "content_type", "body", "retry_after"),
    [
        (500, "text/plain; charset=utf-8", b"Internal Server Error", None),
        (502, "application/json", b'{"detail":"Bad Gateway"}', None),
        (503, "application/json", b'{"detail":"Service Unavailable"}', "1"),
        (402, "application/json", b'{"detail":"Insufficient credits"}', None),
        (429, "application/json", b'{"detail":"Too many active tasks"}', "1"),
    ],
)
def test_submit_faults(
    client: TestClient, status: int, content_type: str, body: bytes, retry_after: str | None
) -> None:
    response = submit(client, f"[mock:submit-{status}]")
    assert (response.status_code, response.headers["content-type"], response.content) == (
        status,
        content_type,
        body,
    )
    assert response.headers.get("retry-after") == retry_after
    assert in_app(client, client.app.control.tasks()) == ()  # type: ignore[attr-defined]


def test_poll_fault_limited_to_n_polls_of_that_task(client: TestClient) -> None:
    task_id = submit(client, "[mock:poll-503=2]").json()["id"]
    other = submit(client).json()["id"]
    codes = [client.get(RESULT, params={"id": task_id}).status_code for _ in range(5)]
    assert codes == [503, 503, 200, 200, 200]
    assert client.get(RESULT, params={"id": other}).status_code == 200
    statuses = [s["status"] for s in poll_all(client, task_id, 1)]
    assert statuses == ["Ready"]  # faulted polls did not count towards the lifecycle


def test_server_fault_counts_across_requests(make_client: ClientFactory) -> None:
    client = make_client(scenario="submit-500=1")
    faulted, *taken = (submit(client) for _ in range(3))
    assert (faulted.status_code, faulted.text) == (500, "Internal Server Error")
    assert [(answer.status_code, answer.json()) for answer in taken] == [
        (200, accepted(answer.json().get("id"))) for answer in taken
    ]


def test_header_fault_on_a_poll(client: TestClient) -> None:
    task_id = submit(client).json()["id"]
    faulted = client.get(RESULT, params={"id": task_id}, headers={"x-bfl-mock": "poll-504"})
    assert (faulted.status_code, faulted.json()) == (504, {"detail": "Gateway Timeout"})


def test_image_fault_and_expired_sample(client: TestClient) -> None:
    task_id = submit(client, "[mock:image-500=1]").json()["id"]
    sample = poll_all(client, task_id, 4)[-1]["result"]["sample"]
    assert [client.get(sample).status_code for _ in range(2)] == [500, 200]
    expired_id = submit(client, "[mock:expired]").json()["id"]
    expired = poll_all(client, expired_id, 4)[-1]["result"]["sample"]
    response = client.get(expired)
    assert response.status_code == 403 and "<Code>AuthenticationFailed</Code>" in response.text


def test_latency_holds_a_reply_without_holding_up_others() -> None:
    clock = HeldClock()
    settings = MockSettings(timing=Timing.POLLS, seed=0, strict=True, scenario="submit-latency=2")
    submitted: list[httpx.Response] = []
    with TestClient(create_app(settings, clock=clock)) as client:
        waiting = threading.Thread(target=lambda: submitted.append(submit(client)))
        waiting.start()
        assert clock.holding.wait(WAIT_SECONDS)  # the submit is held in its latency
        polled = client.get(RESULT, params={"id": "x"})
        held_meanwhile = waiting.is_alive()
        clock.release()
        waiting.join(WAIT_SECONDS)
    assert (polled.status_code, polled.json(), held_meanwhile) == (
        404,
        {"id": "x", **TASK_NOT_FOUND},
        True,
    )
    assert clock.held_for == [2.0]
    assert submitted[0].status_code == 200
    assert submitted[0].json() == accepted(submitted[0].json()["id"])


def test_slow_response_arrives_whole(client: TestClient) -> None:
    response = submit(client, "[mock:submit-slow=0.05]")
    assert response.status_code == 200 and response.json()["id"]


def test_dropped_response_cuts_the_connection(client: TestClient) -> None:
    from mockserver.render.shaping import ConnectionDropped

    with pytest.raises(ConnectionDropped):
        submit(client, "[mock:submit-drop]")


def test_unknown_directive_is_a_400_not_a_500(client: TestClient) -> None:
    response = submit(client, "[mock:explode]")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("bfl-mock: unknown directive 'explode'")
    header = client.get(RESULT, params={"id": "x"}, headers={"x-bfl-mock": "nope"})
    assert header.status_code == 400
    task_id = submit(client).json()["id"]
    sample = poll_all(client, task_id, 4)[-1]["result"]["sample"]
    image = client.get(sample, headers={"x-bfl-mock": "nope"})
    assert (image.status_code, image.json()["detail"][:31]) == (
        400,
        "bfl-mock: unknown directive 'no",
    )


def test_bad_server_scenario_is_a_settings_error(make_client: ClientFactory) -> None:
    with pytest.raises(SettingsError, match="scenario: unknown directive 'nope'"):
        make_client(scenario="nope")


# --- credits and limits --------------------------------------------------------------------


def test_402_when_credits_cannot_cover_the_image(make_client: ClientFactory) -> None:
    client = make_client(credits=9.0, polls_until_ready=0)
    first, second = submit(client), submit(client)
    assert (first.status_code, second.status_code) == (200, 200)
    third = submit(client)  # 9 credits, 8 reserved by the two unfinished tasks
    assert (third.status_code, third.content) == (402, b'{"detail":"Insufficient credits"}')
    client.get(RESULT, params={"id": first.json()["id"]})
    assert client.get(CREDITS, headers=AUTH).json() == {"credits": 5.0}


def test_429_past_the_active_task_limit(make_client: ClientFactory) -> None:
    client = make_client(max_active_tasks=2, polls_until_ready=1, retry_after_seconds=3)
    ids = [submit(client).json()["id"] for _ in range(2)]
    refused = submit(client)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "3"
    assert refused.json() == {"detail": "Too many active tasks"}
    other_key = client.post(SUBMIT, json={}, headers={"x-key": "someone-else"})
    assert other_key.status_code == 200
    poll_all(client, ids[0], 2)
    assert submit(client).status_code == 200


def test_429_is_24_active_tasks_by_default(client: TestClient) -> None:
    answers = [submit(client) for _ in range(25)]
    assert [(answer.status_code, answer.json()) for answer in answers] == [
        *((200, accepted(answer.json().get("id"))) for answer in answers[:24]),
        (429, {"detail": "Too many active tasks"}),
    ]
