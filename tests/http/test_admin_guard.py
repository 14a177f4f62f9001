"""The admin API's guard: the bearer token, masked secrets, writes from the mock's origin."""

from __future__ import annotations

import json

import httpx
import pytest
from starlette.testclient import TestClient

from mockserver.cli import banner
from mockserver.serving.server import MockServer
from mockserver.settings import MockSettings, Timing
from mockserver.spec.reading import load_spec

from support import AUTH, SUBMIT, SUBMITTED_KEYS, ClientFactory, WebhookReceiver, wait_deliveries

TOKEN = "s3cret-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
NOT_AUTHENTICATED = {"detail": "Not authenticated"}
ADMIN_REQUESTS = [
    ("GET", "/_mock/"),
    ("GET", "/_mock/journal"),
    ("GET", "/_mock/tasks"),
    ("GET", "/_mock/webhooks"),
    ("GET", "/_mock/scenario"),
    ("PUT", "/_mock/scenario"),
    ("DELETE", "/_mock/scenario"),
    ("PUT", "/_mock/credits"),
    ("POST", "/_mock/reset"),
    ("GET", "/_mock/dashboard.js"),
    ("GET", "/_mock/events"),
    ("GET", "/_mock/calls/1.5~0"),
    ("GET", "/_mock/media/some-task"),
]


@pytest.fixture
def guarded(make_client: ClientFactory) -> TestClient:
    return make_client(admin_token=TOKEN)


@pytest.mark.parametrize(("method", "path"), ADMIN_REQUESTS)
@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN}x"]
)
def test_every_admin_request_needs_the_token(
    guarded: TestClient, method: str, path: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = guarded.request(method, path, headers=headers, content="error")
    assert (response.status_code, response.json(), response.headers["www-authenticate"]) == (
        401,
        NOT_AUTHENTICATED,
        "Bearer",
    )
    assert guarded.get("/_mock/scenario", headers=BEARER).json()["outcome"] is None


def test_with_the_token_the_admin_api_answers(guarded: TestClient) -> None:
    put = guarded.put("/_mock/scenario", content="error", headers=BEARER)
    assert (put.status_code, put.json()["outcome"]) == (200, "ERROR")
    page = guarded.get("/_mock/", headers=BEARER)
    assert (page.status_code, page.headers["content-type"]) == (200, "text/html; charset=utf-8")
    assert guarded.post("/_mock/reset", headers=BEARER).status_code == 204
    # The API itself is untouched by the admin token.
    submitted = guarded.post(SUBMIT, json={}, headers=AUTH)
    assert (submitted.status_code, sorted(submitted.json())) == (200, SUBMITTED_KEYS)


def test_a_browser_opens_the_dashboard_with_the_token_in_the_query(guarded: TestClient) -> None:
    assert guarded.get("/_mock/", params={"token": "wrong"}).status_code == 401
    page = guarded.get("/_mock/", params={"token": TOKEN})
    assert (page.status_code, page.headers["set-cookie"]) == (
        200,
        f"bfl_mock_admin={TOKEN}; HttpOnly; Path=/_mock; SameSite=strict",
    )
    # The page's own requests carry the cookie (the client keeps it, as a browser does).
    missing = guarded.get("/_mock/calls/1.5~0")
    assert (missing.status_code, missing.json()) == (
        404,
        {"detail": "no such request in the journal (only journal_limit are kept)"},
    )
    guarded.cookies.clear()
    assert guarded.get("/_mock/calls/1.5~0").status_code == 401
    # A write is never authorised by the query: it takes the header (or the cookie).
    write = guarded.put("/_mock/scenario", params={"token": TOKEN}, content="error")
    assert (write.status_code, write.json()) == (401, NOT_AUTHENTICATED)


def test_keys_and_secrets_are_masked_unless_revealed(client: TestClient) -> None:
    body = {"prompt": "a fox", "webhook_url": "http://127.0.0.1:9/hook", "webhook_secret": "pss"}
    client.post(SUBMIT, json=body, headers={**AUTH, "Cookie": "session=abc"})
    (masked,) = client.get("/_mock/journal").json()
    assert (masked["headers"]["x-key"], masked["headers"]["cookie"]) == ("***", "***")
    assert json.loads(masked["body"]) == {**body, "webhook_secret": "***"}
    (revealed,) = client.get("/_mock/journal", params={"reveal": "1"}).json()
    assert (revealed["headers"]["x-key"], revealed["headers"]["cookie"]) == (
        "test-key",
        "session=abc",
    )
    assert json.loads(revealed["body"]) == body


def test_webhook_secrets_are_masked_unless_revealed(client: TestClient) -> None:
    with WebhookReceiver() as receiver:
        body = {"webhook_url": receiver.url, "webhook_secret": "s"}
        client.post(SUBMIT, json=body, headers=AUTH)
        done = wait_deliveries(client, 1)
    assert [finished.delivered for finished in done] == [True]
    (delivery,) = client.get("/_mock/webhooks").json()
    assert delivery["headers"] == {"content-type": "application/json", "x-webhook-secret": "***"}
    (shown,) = client.get("/_mock/webhooks", params={"reveal": "1"}).json()
    assert shown["headers"] == {"content-type": "application/json", "x-webhook-secret": "s"}


@pytest.mark.parametrize(("method", "path"), [r for r in ADMIN_REQUESTS if r[0] != "GET"])
@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://testserver:8080"])
def test_admin_writes_from_another_origin_are_refused(
    client: TestClient, method: str, path: str, origin: str
) -> None:
    client.post(SUBMIT, json={}, headers=AUTH)
    response = client.request(method, path, headers={"Origin": origin}, content="error")
    assert (response.status_code, response.json()) == (
        403,
        {"detail": "bfl-mock: admin writes are refused from another origin"},
    )
    assert len(client.get("/_mock/tasks").json()) == 1
    assert client.get("/_mock/scenario").json()["outcome"] is None


def test_admin_writes_from_the_mocks_own_origin_pass(client: TestClient) -> None:
    put = client.put("/_mock/scenario", content="error", headers={"Origin": "http://testserver"})
    assert (put.status_code, put.json()["outcome"]) == (200, "ERROR")


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded"],
)
def test_a_post_a_page_could_send_without_asking_is_refused(
    client: TestClient, content_type: str
) -> None:
    client.post(SUBMIT, json={}, headers=AUTH)
    reset = client.post("/_mock/reset", content="x", headers={"content-type": content_type})
    assert (reset.status_code, reset.json()) == (
        415,
        {"detail": "bfl-mock: admin POSTs take no form or text/plain body"},
    )
    assert len(client.get("/_mock/tasks").json()) == 1
    assert client.post("/_mock/reset").status_code == 204
    assert client.get("/_mock/tasks").json() == []


@pytest.mark.parametrize(
    ("host", "token", "warned"),
    [
        ("0.0.0.0", None, True),
        ("::", None, True),
        ("0.0.0.0", TOKEN, False),
        ("127.0.0.1", None, False),
        ("::1", None, False),
        ("localhost", None, False),
    ],
)
def test_the_banner_warns_of_an_open_admin_api_beyond_loopback(
    host: str, token: str | None, warned: bool
) -> None:
    settings = MockSettings(host=host, admin_token=token)
    shown = banner(settings, load_spec(None), f"http://{host}:8000")
    warning = (
        f"  warning: {host} is reachable from other machines and the admin API is open: "
        "anyone who reaches the port can read keys and secrets, steer and reset the mock. "
        "Set --admin-token TOKEN (or --no-admin)."
    )
    assert (warning in shown.splitlines()) is warned
    assert TOKEN not in shown


def test_mock_server_gives_the_admin_headers() -> None:
    settings = MockSettings(port=0, timing=Timing.POLLS, admin_token=TOKEN)
    with MockServer(settings) as server:
        assert server.admin_headers == BEARER
        refused = httpx.get(server.url + "/_mock/tasks")
        allowed = httpx.get(server.url + "/_mock/tasks", headers=server.admin_headers)
    assert (refused.status_code, refused.json()) == (401, NOT_AUTHENTICATED)
    assert (allowed.status_code, allowed.json()) == (200, [])
    assert MockServer(MockSettings(port=0)).admin_headers == {}
