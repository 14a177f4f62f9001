"""What every suite shares: its markers by folder, the hypothesis profiles, the fixtures.

The tests are grouped in a folder per suite: unit/ (modules tested directly, no app
started), http/ (the mock over HTTP: in process, on a socket, through its CLI and its
pytest fixture), contract/ (the contract kit) and property/ (hypothesis property tests);
contract/property/ holds the kit's property tests, which belong to both. The folder is
the one source of a test's suite marker, which tox selects by; the helpers the suites
share sit beside them in tests/.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from starlette.testclient import TestClient

from mockserver.clock import ManualClock
from mockserver.http.app import create_app
from mockserver.settings import MockSettings, Timing

from redis_server import RedisServer
from support import ClientFactory, in_app, suite_markers

pytest_plugins = ["pytester"]

settings.register_profile("dev", max_examples=40, deadline=None)
settings.register_profile(
    "ci",
    max_examples=300,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by the markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for marker in suite_markers(item.path):
            item.add_marker(marker)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def make_client(clock: ManualClock) -> Iterator[ClientFactory]:
    """In-process clients of fresh mocks: polls-driven, seeded, strict, on a manual clock."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        base = MockSettings(timing=Timing.POLLS, seed=0, strict=True)
        client = TestClient(create_app(base.replace(**overrides), clock=clock))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        calls = in_app(client, client.app.control.calls())  # type: ignore[attr-defined]
        client.__exit__(None, None, None)
        problems = [problem for call in calls for problem in call.response_problems]
        assert not problems, problems


@pytest.fixture
def client(make_client: ClientFactory) -> TestClient:
    return make_client()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server for the session (the tests needing it skip where none is installed)."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (.ci/run installs Debian's package)")
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A Redis URL of this test's own: a key prefix no other test uses."""
    return f"{redis_server.url}?prefix=test-{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every host name resolved from now on (the event loop resolves through this)."""
    seen: list[str] = []
    real = socket.getaddrinfo

    def recording(host: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(host.decode() if isinstance(host, bytes) else str(host))
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", recording)
    return seen
