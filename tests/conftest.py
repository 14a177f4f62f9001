from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from starlette.testclient import TestClient

from mockserver.clock import ManualClock
from mockserver.http.app import create_app
from mockserver.settings import MockSettings, Timing

from support import ClientFactory

pytest_plugins = ["pytester"]

settings.register_profile("dev", max_examples=40, deadline=None)
settings.register_profile(
    "ci",
    max_examples=600,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


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
        client.__exit__(None, None, None)
        calls = client.app.state.runtime.store.calls()  # type: ignore[attr-defined]
        problems = [problem for call in calls for problem in call.response_problems]
        assert not problems, problems


@pytest.fixture
def client(make_client: ClientFactory) -> TestClient:
    return make_client()
