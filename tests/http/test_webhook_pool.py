"""Webhook delivery under load and hostile targets: the bounded pool, the queue, the allow-list."""

from __future__ import annotations

import logging

import pytest
from starlette.testclient import TestClient

from mockserver.http.addresses import allowed
from mockserver.http.app import create_app
from mockserver.settings import MockSettings, Timing
from mockserver.state.records import Delivery

from support import (
    AUTH,
    NOT_ALLOWED,
    SUBMIT,
    ClientFactory,
    HangingReceiver,
    WebhookReceiver,
    control_of,
    in_app,
    wait_deliveries,
)


def submit(client: TestClient, url: str) -> str:
    response = client.post(SUBMIT, json={"webhook_url": url}, headers=AUTH)
    assert response.status_code == 200, response.text
    task_id: str = response.json()["id"]
    return task_id


def test_a_hanging_receiver_costs_only_its_own_deliveries(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = MockSettings(
        timing=Timing.POLLS,
        seed=0,
        webhook_concurrency=4,
        webhook_per_receiver=2,
        webhook_timeout_seconds=120,
        max_active_tasks=100,
    )
    with (
        HangingReceiver() as hanging,
        WebhookReceiver() as healthy,
        TestClient(create_app(settings)) as client,
    ):
        # The hanging receiver's deliveries come first in the queue, more than the cap.
        stuck = {submit(client, hanging.url) for _ in range(10)}
        served = {submit(client, healthy.url) for _ in range(20)}
        done = wait_deliveries(client, 20)
        assert len(healthy.wait(20)) == 20
        assert {delivery.task_id for delivery in done} == served
        assert {(d.delivered, d.url, len(d.attempts), d.note) for d in done} == {
            (True, healthy.url, 1, None)
        }
        everything = in_app(client, control_of(client).deliveries())
        waiting = {d.task_id for d in everything if not d.done}
        assert waiting == stuck
    assert (
        "mockserver.webhooks",
        logging.WARNING,
        "bfl-mock: 10 webhook deliveries abandoned at shutdown",
    ) in caplog.record_tuples


def test_one_receiver_gets_at_most_its_connection_limit(make_client: ClientFactory) -> None:
    client = make_client(webhook_per_receiver=2, max_active_tasks=100)
    with WebhookReceiver(delay=0.2) as receiver:
        for _ in range(8):
            submit(client, receiver.url)
        done = wait_deliveries(client, 8)
        assert len(receiver.wait(8)) == 8
    assert [delivery.delivered for delivery in done] == [True] * 8
    assert receiver.most_at_once == 2


def test_a_full_queue_keeps_the_webhook_as_not_sent(make_client: ClientFactory) -> None:
    client = make_client(webhook_queue_limit=1, webhook_timeout_seconds=120)
    with HangingReceiver() as hanging:
        submit(client, hanging.url)
        refused = submit(client, hanging.url)
        (delivery,) = wait_deliveries(client, 1)
    assert delivery == Delivery(
        task_id=refused,
        url=hanging.url,
        origin="http://testserver",
        skipped=True,
        note="not sent: 1 webhooks were waiting (webhook_queue_limit)",
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.invalid/x",
        "http://10.0.0.1/x",
        "http://192.168.1.1:8080/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[fd00::1]/x",
        "https://localhost.example.com/x",
    ],
)
def test_a_target_not_allowed_is_refused_unlooked_up(
    make_client: ClientFactory, lookups: list[str], url: str
) -> None:
    client = make_client()
    task_id = submit(client, url)
    (delivery,) = wait_deliveries(client, 1)
    assert (delivery.task_id, delivery.url, delivery.skipped, delivery.attempts) == (
        task_id,
        url,
        True,
        (),
    )
    assert delivery.note == NOT_ALLOWED
    assert lookups == []


def test_a_localhost_subdomain_is_delivered_without_looking_it_up(
    make_client: ClientFactory, lookups: list[str]
) -> None:
    client = make_client()
    with WebhookReceiver() as receiver:
        url = receiver.url.replace("127.0.0.1", "hooks.localhost")
        task_id = submit(client, url)
        (delivery,) = wait_deliveries(client, 1)
        (received,) = receiver.wait(1)
    assert (delivery.task_id, delivery.url, delivery.delivered) == (task_id, url, True)
    assert [attempt.status for attempt in delivery.attempts] == [200]
    assert received.headers["host"] == url.split("/")[2]
    assert "localhost" in lookups  # the connection went to localhost ...
    assert not any(name.endswith(".localhost") for name in lookups)  # ... by that name only


@pytest.mark.parametrize(
    ("url", "allowed_here"),
    [
        ("http://10.1.2.3:8080/x", True),
        ("http://10.1.2.3/x", False),
        ("https://hooks.internal/x", True),
        ("http://hooks.internal/x", False),
        ("http://[fd00::1]:9000/x", True),
        ("http://[fd00::1]:9001/x", False),
        ("http://[fd00::2]/x", True),
        ("http://receiver:abc/x", False),
    ],
)
def test_allow_list_entries_may_name_a_port(url: str, allowed_here: bool) -> None:
    hosts = frozenset({"10.0.0.0/8:8080", "*.internal:443", "[fd00::1]:9000", "fd00::2"})
    assert allowed(url, hosts) is allowed_here


def test_the_allow_list_is_read_from_a_flag_or_the_environment(make_client: ClientFactory) -> None:
    settings = MockSettings.from_env(
        {"BFL_MOCK_WEBHOOK_HOSTS": "10.0.0.0/8:8080, [fd00::1]:9000,*.internal"}
    )
    assert settings.webhook_hosts == {"10.0.0.0/8:8080", "[fd00::1]:9000", "*.internal"}
    client = make_client(webhook_hosts=settings.webhook_hosts)
    submit(client, "http://10.0.0.1:9999/x")  # the network, but not the port allowed
    (delivery,) = wait_deliveries(client, 1)
    assert (delivery.skipped, delivery.note) == (True, NOT_ALLOWED)
