"""pytest plugin (entry point ``pytest11``): run the code under test against bfl-mock.

Loaded by every pytest run where bfl-mock is installed, so it imports only pytest at
load time; the mock itself is imported when a fixture is first used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mockserver.http.routing import MockApp
    from mockserver.serving.server import MockServer
    from mockserver.settings import MockSettings

MARKER = "bfl_mock"
OFF_CONTRACT_MARKER = "bfl_mock_off_contract"
CLIENT_CHECK_FIXTURE = "bfl_mock_client_check"
OPT_OUTS = (
    f"Sent on purpose? Mark the test @pytest.mark.{OFF_CONTRACT_MARKER}; for a whole "
    f"suite, define a session-scoped {CLIENT_CHECK_FIXTURE} fixture returning False."
)
"""How to stop the off-contract check, said where it fails a test."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**settings): run this test against a bfl-mock built with these "
        "MockSettings overrides, e.g. @pytest.mark.bfl_mock(polls_until_ready=5)",
    )
    config.addinivalue_line(
        "markers",
        f"{OFF_CONTRACT_MARKER}: this test sends off-contract requests to bfl-mock on "
        "purpose; do not fail it for them at teardown",
    )


@pytest.fixture(scope="session")
def bfl_mock_settings() -> MockSettings:
    """Settings of the mock the ``bfl_mock*`` fixtures start.

    Defaults: a free port on 127.0.0.1, tasks final after 2 polls (no waiting), seed 0,
    strict response checking. Override this fixture in your conftest.py to change them.
    """
    from mockserver.settings import MockSettings, Timing

    return MockSettings(port=0, timing=Timing.POLLS, polls_until_ready=2, seed=0, strict=True)


@pytest.fixture(scope="session")
def bfl_mock_client_check() -> bool:
    """Whether ``bfl_mock`` fails a test whose client sent an off-contract request.

    True: at teardown the test fails with each refused request and the reason the mock
    gave (``body.width: Input should be a multiple of 32 (multiple_of)``). Override
    this fixture to return False to switch the check off for a whole suite, or mark
    one test with ``@pytest.mark.bfl_mock_off_contract``.
    """
    return True


@pytest.fixture(scope="session")
def bfl_mock_server(bfl_mock_settings: MockSettings) -> Iterator[MockServer]:
    """The session's live bfl-mock, started on first use and stopped at the end.

    Prefer ``bfl_mock``, which also resets it before each test.
    """
    from mockserver.serving.server import MockServer

    with MockServer(bfl_mock_settings) as server:
        yield server


@pytest.fixture
def bfl_mock(
    request: pytest.FixtureRequest, bfl_mock_settings: MockSettings
) -> Iterator[MockServer]:
    """A live bfl-mock for this test: point your client at ``bfl_mock.url``.

    Send ``bfl_mock.api_key`` as ``x-key``. ``bfl_mock.calls`` lists the requests it
    received (method, path, body, status, and why a request was refused), and
    ``bfl_mock.tasks`` the tasks it created. The session's server is reset before
    each test; ``@pytest.mark.bfl_mock(**settings)`` gives the test its own server
    with those settings. The test fails at teardown if the mock answered off-spec,
    or if the client sent a request off the contract (see ``bfl_mock_client_check``).
    """
    check_client = request.getfixturevalue(CLIENT_CHECK_FIXTURE) and (
        request.node.get_closest_marker(OFF_CONTRACT_MARKER) is None
    )
    overrides = _marker_settings(request)
    if overrides:
        from mockserver.serving.server import MockServer

        with MockServer(bfl_mock_settings.replace(**overrides)) as own:
            yield own
            _check(own, check_client)
        return
    server: MockServer = request.getfixturevalue("bfl_mock_server")
    server.reset()
    yield server
    _check(server, check_client)


def _check(server: MockServer, check_client: bool) -> None:
    __tracebackhide__ = True  # the failure is the test's: the fixture's line is enough
    from mockserver.serving.server import RequestViolation

    server.check()
    if not check_client:
        return
    try:
        server.check_requests()
    except RequestViolation as violation:
        raise RequestViolation(f"{violation}\n{OPT_OUTS}") from None


@pytest.fixture
def bfl_mock_app(request: pytest.FixtureRequest, bfl_mock_settings: MockSettings) -> MockApp:
    """A fresh in-process bfl-mock ASGI app, for async tests (no socket).

    Send requests with ``httpx.AsyncClient(transport=httpx.ASGITransport(app=bfl_mock_app))``
    from an async test (anyio's ``@pytest.mark.anyio``, or pytest-asyncio); httpx's ASGI
    transport is async only, so a sync ``httpx.Client`` cannot use it: give sync code
    ``bfl_mock.url`` instead. ``await bfl_mock_app.control.calls()`` is its journal
    (``control`` steers it as ``bfl_mock`` does, async). Honours
    ``@pytest.mark.bfl_mock(**settings)`` like ``bfl_mock``.
    """
    from mockserver.http.app import create_app

    return create_app(bfl_mock_settings.replace(**_marker_settings(request)))


def _marker_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker(MARKER)
    return dict(marker.kwargs) if marker else {}
