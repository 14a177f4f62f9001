"""Several mocks on one Redis behave as one: tasks, credits, limits, webhooks, restarts, faults.

Each "process" here is a full app of its own (its own runtime, caches and webhook
worker) sharing only a Redis store, as worker processes and hosts do; the last tests
run ``bfl-mock serve --workers 2`` for real.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from starlette.testclient import TestClient

from mockserver.http.app import create_app
from mockserver.serving.server import MockServer
from mockserver.settings import MockSettings, Timing

from redis_server import RedisServer
from support import (
    AUTH,
    CREDITS,
    RESULT,
    SUBMIT,
    HangingReceiver,
    WebhookReceiver,
    in_app,
    poll_to_end,
    wait_deliveries,
)

BASE = MockSettings(timing=Timing.POLLS, polls_until_ready=2, seed=None, strict=True)


@pytest.fixture
def pair(redis_url: str) -> Iterator[tuple[TestClient, TestClient]]:
    """Two mocks sharing one Redis (``first`` is the one tests reset at the end)."""
    settings = BASE.replace(store=redis_url)
    with TestClient(create_app(settings)) as first, TestClient(create_app(settings)) as second:
        yield first, second
        in_app(first, first.app.control.reset())  # type: ignore[attr-defined]


def test_a_task_submitted_on_one_is_polled_downloaded_and_charged_on_the_other(
    pair: tuple[TestClient, TestClient],
) -> None:
    first, second = pair
    submitted = first.post(SUBMIT, json={"prompt": "a fox", "seed": 7}, headers=AUTH).json()
    final = poll_to_end(second, submitted["polling_url"])
    assert (final["id"], final["status"], final["result"]["seed"]) == (
        submitted["id"],
        "Ready",
        7,
    )
    # A sample URL signed by one process is served by another: they share the secret.
    download = first.get(final["result"]["sample"])
    assert (download.status_code, download.headers["content-type"]) == (200, "image/jpeg")
    assert download.content == second.get(final["result"]["sample"]).content
    balances = [c.get(CREDITS, headers=AUTH).json()["credits"] for c in (first, second)]
    assert balances == [996.0, 996.0]


def test_limits_and_credits_hold_across_processes(pair: tuple[TestClient, TestClient]) -> None:
    first, second = pair
    statuses = [
        (first if index % 2 else second).post(SUBMIT, json={}, headers=AUTH).status_code
        for index in range(30)
    ]
    assert statuses == [200] * 24 + [429] * 6
    in_app(first, first.app.control.set_credits("poor", 8.0))  # type: ignore[attr-defined]
    poor = {"x-key": "poor"}
    refused = [c.post(SUBMIT, json={}, headers=poor).status_code for c in (first, second, first)]
    assert refused == [200, 200, 402]


def test_the_journal_and_the_scenario_are_shared(pair: tuple[TestClient, TestClient]) -> None:
    first, second = pair
    second.put("/_mock/scenario", content="poll-503=1")
    task_id = first.post(SUBMIT, json={}, headers=AUTH).json()["id"]
    # The server-wide fault counts once across both processes.
    polls = [c.get(RESULT, params={"id": task_id}).status_code for c in (first, second, first)]
    assert polls[0] in (200, 503) and sorted(polls).count(503) == 1
    in_app(first, first.app.control.calls())  # type: ignore[attr-defined]  # written out now
    journal = second.get("/_mock/journal", params={"path": SUBMIT}).json()
    assert [(entry["method"], entry["status"]) for entry in journal] == [("POST", 200)]


def test_each_webhook_is_delivered_once_whichever_process_claims_it(
    pair: tuple[TestClient, TestClient],
) -> None:
    first, second = pair
    with WebhookReceiver() as receiver:
        for index in range(40):
            (first if index % 2 else second).post(
                SUBMIT, json={"webhook_url": receiver.url, "prompt": f"n{index}"}, headers=AUTH
            )
        done = wait_deliveries(first, 40, timeout=30.0)
        assert len(done) == 40 and all(delivery.delivered for delivery in done)
        bodies = [json.loads(received.body)["task_id"] for received in receiver.received]
    assert len(bodies) == 40 and len(set(bodies)) == 40


def test_a_webhook_waiting_its_turn_past_its_lease_is_still_sent_once(redis_url: str) -> None:
    # The first process claims all 20 deliveries before the second starts; one connection
    # to a receiver taking 0.5 s each makes the last ones wait up to 10 s, past the 7 s
    # lease (timeout 2 s + 5 s): renewed meanwhile, the second process never takes them.
    settings = BASE.replace(store=redis_url, webhook_per_receiver=1, webhook_timeout_seconds=2.0)
    with WebhookReceiver(delay=0.5) as receiver, TestClient(create_app(settings)) as first:
        for index in range(20):
            body = {"webhook_url": receiver.url, "prompt": f"n{index}"}
            first.post(SUBMIT, json=body, headers=AUTH)
        receiver.wait(2)  # claimed by then: the first process looks every 0.1 s at most
        with TestClient(create_app(settings)) as second:
            done = wait_deliveries(second, 20, timeout=60.0)
            bodies = [json.loads(received.body)["task_id"] for received in receiver.wait(20)]
        in_app(first, first.app.control.reset())  # type: ignore[attr-defined]
    assert [[attempt.status for attempt in delivery.attempts] for delivery in done] == [[200]] * 20
    assert len(bodies) == 20 and len(set(bodies)) == 20


def test_webhooks_unsent_at_a_stop_stay_in_the_shared_store(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = BASE.replace(store=redis_url, webhook_timeout_seconds=60.0)
    with HangingReceiver() as hanging, TestClient(create_app(settings)) as client:
        client.post(SUBMIT, json={"webhook_url": hanging.url}, headers=AUTH)
        client.post(SUBMIT, json={"webhook_url": hanging.url}, headers=AUTH)
    assert (
        "mockserver.webhooks",
        logging.WARNING,
        "bfl-mock: 2 webhook deliveries not sent yet, left in the store for another process",
    ) in caplog.record_tuples
    with TestClient(create_app(settings)) as after:
        in_app(after, after.app.control.reset())  # type: ignore[attr-defined]


def test_a_restarted_mock_keeps_tasks_balances_and_the_journal(redis_url: str) -> None:
    settings = BASE.replace(store=redis_url)
    with TestClient(create_app(settings)) as before:
        submitted = before.post(SUBMIT, json={}, headers=AUTH).json()
        poll_to_end(before, submitted["polling_url"])
    with TestClient(create_app(settings)) as after:
        again = after.get(submitted["polling_url"]).json()
        assert (again["id"], again["status"]) == (submitted["id"], "Ready")
        assert after.get(CREDITS, headers=AUTH).json() == {"credits": 996.0}
        assert [e["path"] for e in after.get("/_mock/journal").json()][:2] == [SUBMIT, RESULT]
        in_app(after, after.app.control.reset())  # type: ignore[attr-defined]


def test_a_lost_redis_answers_503_and_full_service_returns_with_it() -> None:
    with RedisServer(persist=True) as redis:
        settings = BASE.replace(store=redis.url, retry_after_seconds=2)
        with TestClient(create_app(settings)) as client:
            task = client.post(SUBMIT, json={}, headers=AUTH).json()
            redis.stop_gracefully()  # saves what it holds, as a restarted Redis keeps it
            for lost in (
                client.get(RESULT, params={"id": task["id"]}),
                client.post(SUBMIT, json={}, headers=AUTH),
                client.get(CREDITS, headers=AUTH),
            ):
                assert (lost.status_code, lost.json(), lost.headers["retry-after"]) == (
                    503,
                    {"detail": "Service Unavailable"},
                    "2",
                )
            redis.start()
            assert poll_to_end(client, task["polling_url"])["status"] == "Ready"
            assert client.post(SUBMIT, json={}, headers=AUTH).status_code == 200


def test_mock_server_and_its_fixture_settings_take_a_shared_store(redis_url: str) -> None:
    settings = MockSettings(port=0, store=redis_url, timing=Timing.POLLS, polls_until_ready=1)
    with MockServer(settings) as one, MockServer(settings) as two:
        sent = httpx.post(one.url + SUBMIT, json={}, headers={"x-key": one.api_key}).json()
        assert httpx.get(two.url + RESULT, params={"id": sent["id"]}).json()["id"] == sent["id"]
        assert [task.id for task in two.tasks] == [sent["id"]]
        one.reset()


def serve(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


def test_several_workers_need_a_shared_store_and_say_so() -> None:
    process = serve("--workers", "2")
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "2 workers need a shared store" in stderr and "--store redis://" in stderr


def test_an_unreachable_redis_stops_the_start_naming_it() -> None:
    process = serve("--store", "redis://127.0.0.1:9/0")
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "Redis at redis://127.0.0.1:9/0 does not answer" in stderr


def test_two_workers_serve_one_port_and_a_killed_worker_loses_no_task(redis_url: str) -> None:
    process = serve("--workers", "2", "--store", redis_url, "--timing", "polls")
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        match = re.search(r" on (http://127\.0\.0\.1:\d+)", banner)
        assert match, banner
        origin = match.group(1)
        with httpx.Client(base_url=origin, headers=AUTH, timeout=10) as http:
            ids = [http.post(SUBMIT, json={}).json()["id"] for _ in range(20)]
            # Fresh connections spread over both processes; each polls the others' tasks.
            workers = _children(process.pid)
            assert len(workers) == 2
            os.kill(workers[0], signal.SIGKILL)
            for task_id in ids:
                with httpx.Client(base_url=origin, timeout=10) as fresh:
                    answer = fresh.get(RESULT, params={"id": task_id})
                    assert (answer.status_code, answer.json()["id"]) == (200, task_id)
        in_app_reset = httpx.post(origin + "/_mock/reset")
        assert in_app_reset.status_code == 204
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)


def _children(pid: int) -> list[int]:
    """The pids of uvicorn's worker processes under ``pid`` (spawned), from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    spawned = b"spawn_main" in cmdline.read()
            except OSError:
                continue
            if int(fields[1]) == pid and spawned:
                found.append(int(entry))
    return sorted(found)
