"""Webhook delivery to a real HTTP receiver: payload styles, signatures, retries, journal."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from mockserver.http.addresses import allowed
from mockserver.serving.server import MockServer
from mockserver.settings import MockSettings, Timing, WebhookSignature, WebhookStyle

from support import (
    AUTH,
    NOT_ALLOWED,
    RESULT,
    SUBMIT,
    ClientFactory,
    WebhookReceiver,
    wait_deliveries,
)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


def test_submit_with_webhook_answers_async_webhook_response(
    client: TestClient, receiver: WebhookReceiver
) -> None:
    response = client.post(
        SUBMIT, json={"prompt": "a fox", "webhook_url": receiver.url}, headers=AUTH
    )
    assert response.status_code == 200
    task_id = response.json()["id"]
    assert (
        response.content
        == (
            f'{{"id":"{task_id}","status":"Pending","webhook_url":"{receiver.url}",'
            '"cost":null,"input_mp":null,"output_mp":null}'
        ).encode()
    )


def test_default_delivery_is_task_id_style_with_the_secret_header(
    client: TestClient, receiver: WebhookReceiver
) -> None:
    body = {"prompt": "a fox", "seed": 5, "webhook_url": receiver.url, "webhook_secret": "s3"}
    task_id = client.post(SUBMIT, json=body, headers=AUTH).json()["id"]
    (received,) = receiver.wait(1)
    assert received.path == "/hook"
    assert received.headers["content-type"] == "application/json"
    assert received.headers["x-webhook-secret"] == "s3"
    payload = json.loads(received.body)
    assert list(payload) == ["task_id", "status", "result", "error"]
    assert (payload["task_id"], payload["status"], payload["error"]) == (task_id, "SUCCESS", None)
    assert list(payload["result"]) == [
        "sample",
        "prompt",
        "seed",
        "start_time",
        "end_time",
        "duration",
    ]
    assert payload["result"]["seed"] == 5
    assert client.get(payload["result"]["sample"]).status_code == 200
    # The task finished for polling clients too.
    assert client.get(RESULT, params={"id": task_id}).json()["status"] == "Ready"


def test_id_style_with_hmac_signature(
    make_client: ClientFactory, receiver: WebhookReceiver
) -> None:
    client = make_client(
        webhook_style=WebhookStyle.ID,
        webhook_signature=WebhookSignature.HMAC_SHA256,
        webhook_signature_header="X-BFL-Signature",
    )
    body = {"prompt": "x", "webhook_url": receiver.url, "webhook_secret": "key"}
    task_id = client.post(SUBMIT, json=body, headers=AUTH).json()["id"]
    (received,) = receiver.wait(1)
    expected = hmac.new(b"key", received.body, hashlib.sha256).hexdigest()
    assert received.headers["x-bfl-signature"] == f"sha256={expected}"
    payload = json.loads(received.body)
    assert list(payload) == ["id", "status", "result", "timestamp"]
    assert (payload["id"], payload["status"]) == (task_id, "Ready")


def test_failed_task_is_delivered_as_failed(client: TestClient, receiver: WebhookReceiver) -> None:
    body = {"prompt": "[mock:content-moderated]", "webhook_url": receiver.url}
    task_id = client.post(SUBMIT, json=body, headers=AUTH).json()["id"]
    (received,) = receiver.wait(1)
    assert json.loads(received.body) == {
        "task_id": task_id,
        "status": "FAILED",
        "result": None,
        "error": "Content Moderated",
    }
    assert "x-webhook-secret" not in received.headers  # no secret, no header


def test_failed_delivery_is_retried_with_backoff_and_journaled(make_client: ClientFactory) -> None:
    client = make_client(webhook_retry_delays=(0.05, 0.1))
    with WebhookReceiver(statuses=[500, 502, 200]) as receiver:
        client.post(SUBMIT, json={"webhook_url": receiver.url}, headers=AUTH)
        (delivery,) = wait_deliveries(client, 1)
        assert len(receiver.received) == 3
    assert delivery.delivered
    attempts = delivery.attempts
    assert [a.status for a in attempts] == [500, 502, 200]
    arrivals = [received.at for received in receiver.received]
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:], strict=False)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1


def test_unreachable_receiver_gives_up_after_the_retries(make_client: ClientFactory) -> None:
    client = make_client(webhook_retry_delays=(0.01,), webhook_timeout_seconds=0.5)
    with WebhookReceiver() as receiver:
        dead = receiver.url
    client.post(SUBMIT, json={"webhook_url": dead}, headers=AUTH)
    (delivery,) = wait_deliveries(client, 1)
    assert not delivery.delivered
    assert [a.status for a in delivery.attempts] == [None, None]
    assert (delivery.attempts[0].error or "").startswith("ConnectError")


def test_slow_receiver_times_out(make_client: ClientFactory) -> None:
    client = make_client(webhook_retry_delays=(), webhook_timeout_seconds=0.1)
    with WebhookReceiver(delay=0.5) as receiver:
        client.post(SUBMIT, json={"webhook_url": receiver.url}, headers=AUTH)
        (delivery,) = wait_deliveries(client, 1)
    (attempt,) = delivery.attempts
    assert attempt.status is None
    assert attempt.error == "TimeoutError: no answer within 0.1 s (webhook_timeout_seconds)"


def test_webhook_lost_directive_skips_delivery(
    client: TestClient, receiver: WebhookReceiver
) -> None:
    client.post(
        SUBMIT, json={"prompt": "[mock:webhook-lost]", "webhook_url": receiver.url}, headers=AUTH
    )
    (delivery,) = wait_deliveries(client, 1)
    assert delivery.skipped and not delivery.attempts
    assert delivery.note == "not sent: the webhook-lost directive"
    assert receiver.received == []  # done: never to be attempted


def test_a_reset_while_waiting_cancels_the_delivery() -> None:
    settings = MockSettings(port=0, timing=Timing.TIME, generation_seconds=0.2, seed=1)
    with WebhookReceiver() as receiver, MockServer(settings) as server:
        import httpx

        body = {"webhook_url": receiver.url, "prompt": "forgotten"}
        httpx.post(server.url + SUBMIT, json=body, headers={"x-key": "k"})
        server.reset()
        # A later task's delivery comes after the first one's was due: only it arrives.
        body = {"webhook_url": receiver.url, "prompt": "later"}
        later = httpx.post(server.url + SUBMIT, json=body, headers={"x-key": "k"}).json()["id"]
        (delivery,) = server.wait_for_deliveries(1)
        assert (delivery.task_id, delivery.delivered) == (later, True)
        assert [json.loads(r.body)["task_id"] for r in receiver.received] == [later]


def test_delivery_waits_for_the_generation_time_on_a_live_server() -> None:
    settings = MockSettings(port=0, timing=Timing.TIME, generation_seconds=0.3, seed=1)
    with WebhookReceiver() as receiver, MockServer(settings) as server:
        import httpx

        started = time.monotonic()
        httpx.post(server.url + SUBMIT, json={"webhook_url": receiver.url}, headers={"x-key": "k"})
        (delivery,) = server.wait_for_deliveries(1)
        assert delivery.delivered
        assert time.monotonic() - started >= 0.3
        assert len(receiver.received) == 1


def test_webhooks_go_only_to_local_hosts_by_default(make_client: ClientFactory) -> None:
    client = make_client()
    client.post(SUBMIT, json={"webhook_url": "https://example.com/hook"}, headers=AUTH)
    (delivery,) = wait_deliveries(client, 1)
    assert delivery.skipped and not delivery.attempts
    assert delivery.note == NOT_ALLOWED


def test_any_host_can_be_allowed(make_client: ClientFactory) -> None:
    # 203.0.113.0/24 is reserved for documentation; whatever answers, an attempt is made.
    client = make_client(
        webhook_any_host=True, webhook_retry_delays=(), webhook_timeout_seconds=0.2
    )
    client.post(SUBMIT, json={"webhook_url": "http://203.0.113.7/hook"}, headers=AUTH)
    (delivery,) = wait_deliveries(client, 1)
    assert not delivery.skipped and len(delivery.attempts) == 1


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:9/x", True),
        ("http://localhost/x", True),
        ("http://hooks.localhost./x", True),  # RFC 6761: loopback without a lookup
        ("http://a.b.localhost:8080/x", True),
        ("http://localhost.example.com/x", False),
        ("http://notlocalhost/x", False),
        ("http://[::1]/x", True),
        ("http://10.1.2.3/x", False),
        ("http://192.168.0.2/x", False),
        ("https://example.com/x", False),
        ("http://8.8.8.8/x", False),
        ("http://172.16.0.1/x", False),
        ("http://169.254.169.254/latest/meta-data", False),
        ("http://[fd00::1]/x", False),
        ("http://[::ffff:10.0.0.1]/x", False),
        ("http://0.0.0.0/x", False),
        ("http://2130706433/x", False),  # 127.0.0.1 as one number: left to no resolver
    ],
)
def test_only_loopback_is_allowed_by_default(url: str, local: bool) -> None:
    assert allowed(url, frozenset()) is local


@pytest.mark.parametrize(
    ("url", "allowed_here"),
    [
        ("http://10.1.2.3/x", True),
        ("http://10.255.0.1:8080/x", True),
        ("http://11.0.0.1/x", False),
        ("http://hooks.internal/x", True),
        ("http://a.b.internal/x", True),
        ("http://internal/x", False),
        ("http://[fd00::1]/x", False),
        ("http://receiver/x", True),
    ],
)
def test_webhook_hosts_allow_names_patterns_and_networks(url: str, allowed_here: bool) -> None:
    assert allowed(url, frozenset({"10.0.0.0/8", "*.internal", "receiver"})) is allowed_here


def test_a_non_ascii_secret_travels_as_utf8(client: TestClient, receiver: WebhookReceiver) -> None:
    body = {"webhook_url": receiver.url, "webhook_secret": "clé-秘密"}
    client.post(SUBMIT, json=body, headers=AUTH)
    (received,) = receiver.wait(1)
    assert received.headers["x-webhook-secret"].encode("latin-1").decode() == "clé-秘密"
