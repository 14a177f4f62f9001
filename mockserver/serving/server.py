"""``MockServer``: the mock on a real socket, served by uvicorn in a background thread.

For clients that need a URL (other processes, other languages, SDKs with their own
HTTP stack). Binds 127.0.0.1 and a free port by default, and is ready when
``start()`` returns.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import socket
import threading
import time
from collections.abc import Coroutine, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import uvicorn

from mockserver.errors import ServerStartError
from mockserver.render.shaping import ConnectionDropped
from mockserver.serving.guarded_http import LimitedConfig
from mockserver.settings import MockSettings
from mockserver.state.records import Call, Delivery, Task

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from mockserver.http.admin import Control
    from mockserver.http.routing import MockApp

START_TIMEOUT_SECONDS = 10.0
CALL_TIMEOUT_SECONDS = 30.0
"""How long a call from the test's thread may wait for the server's loop to answer."""
T = TypeVar("T")
DEFAULT_TEST_KEY = "bfl-mock-test-key"
BACKLOG = 2048


def call_in_app(
    app: MockApp, call: Coroutine[Any, Any, T], timeout: float = CALL_TIMEOUT_SECONDS
) -> T:
    """Run ``call`` (of ``app.control``) on the loop serving ``app``, from another thread."""
    loop = app.control.loop
    if loop is None:
        call.close()
        raise ServerStartError("the app is not served (its lifespan has not started)")
    return asyncio.run_coroutine_threadsafe(call, loop).result(timeout)


class ResponseViolation(AssertionError):
    """The mock answered something its own spec does not allow (strict mode)."""


CUT_AT_SHUTDOWN = "bfl-mock: a reply under way was cut at shutdown (shutdown_grace_seconds)"


class _QuietDrops(logging.Filter):
    """Keep deliberate disconnects out of uvicorn's error log.

    The ``drop`` directive's go unlogged; a reply cut when a stop's grace period runs out
    gets one line, without a traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, asyncio.CancelledError):
            record.msg, record.args, record.exc_info, record.exc_text = (
                CUT_AT_SHUTDOWN,
                (),
                None,
                None,
            )
            return True
        return not isinstance(error, ConnectionDropped)


_QUIET_DROPS = _QuietDrops()


class RequestViolation(AssertionError):
    """The client sent requests off the contract (the mock refused them, saying why)."""


def off_contract(calls: Iterable[Call]) -> list[str]:
    """One entry per refused request: the request line, the status, then each reason."""
    entries = []
    for call in calls:
        if call.accepted:
            continue
        target = call.path + (f"?{call.query}" if call.query else "")
        reasons = "".join(f"\n    {problem}" for problem in call.problems)
        entries.append(f"{call.method} {target} -> {call.status}{reasons}")
    return entries


def uvicorn_config(app: Starlette | str, settings: MockSettings) -> uvicorn.Config:
    """The fast defaults, and the limits on connections and request heads.

    uvloop when installed, httptools with the head limits, no per-request log line,
    and ``max_connections`` as uvicorn's ``limit_concurrency``.
    """
    error_log = logging.getLogger("uvicorn.error")
    if _QUIET_DROPS not in error_log.filters:
        error_log.addFilter(_QUIET_DROPS)
    return LimitedConfig(
        app,
        max_head_bytes=settings.max_header_bytes,
        head_timeout=settings.header_timeout_seconds,
        limit_concurrency=settings.max_connections,
        h11_max_incomplete_event_size=settings.max_header_bytes,
        loop="auto",
        lifespan="on",
        access_log=settings.access_log,
        log_level="info" if settings.access_log else "warning",
        server_header=False,
        date_header=True,
        # Replies still under way after the grace period (a ``slow`` trickle) are cut,
        # so a stop never waits on a client.
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )


class MockUvicorn(uvicorn.Server):
    """uvicorn, with two changes to how it stops.

    As shutdown begins, the app's long answers (the dashboard's event streams) end: uvicorn
    waits for every open response first, and a stream would keep it waiting. A forced stop
    (a second Ctrl+C) still closes the app: uvicorn then skips the grace period, which is
    right, but also the app's shutdown, leaving replies and the lifespan to be cancelled by
    the closing loop, each with a traceback; here they are cut at once and the app shuts
    down (the webhooks it could not send are counted in one line).
    """

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        control = getattr(self.config.app, "control", None)
        if control is not None:
            control.close_streams()
        await super().shutdown(sockets)
        if self.force_exit:
            for task in self.server_state.tasks:
                task.cancel()
            await self.lifespan.shutdown()


def server_stack() -> str:
    """What ``loop="auto"`` gives (uvloop when installed), and httptools."""
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return f"uvicorn on {loop} + httptools"


def listen(host: str, port: int) -> socket.socket:
    """A listening socket; connections made before uvicorn is up wait in the backlog."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ServerStartError(f"cannot listen on {host}:{port}: {error.strerror}") from error
    sock.listen(BACKLOG)
    return sock


class BackgroundServer:
    """Any ASGI app served by uvicorn in a daemon thread, on already listening sockets."""

    def __init__(
        self, app: Any, sockets: list[socket.socket], settings: MockSettings, name: str
    ) -> None:
        self.sockets = sockets
        self._server = MockUvicorn(uvicorn_config(app, settings))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": sockets}, name=name, daemon=True
        )

    def start(self) -> None:
        """Start serving; returns once uvicorn is up (``ServerStartError`` if it is not)."""
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self._server.started and self._thread.is_alive():
            if time.monotonic() > deadline:
                break
            time.sleep(0.002)
        if not self._server.started:
            self.stop()
            raise ServerStartError("uvicorn did not start (see its log above)")

    def stop(self) -> None:
        """Shut uvicorn down gracefully and close the sockets."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=START_TIMEOUT_SECONDS)
        for sock in self.sockets:
            sock.close()


ServedT = TypeVar("ServedT", bound="Served")


class Served:
    """Something a ``BackgroundServer`` serves once started: ``start()``/``stop()``, or ``with``.

    A subclass's ``start()`` makes the server and keeps it in ``_served``; stopping and
    the context manager are the same for every one.
    """

    _served: BackgroundServer | None = None

    def start(self: ServedT) -> ServedT:
        raise NotImplementedError

    def stop(self) -> None:
        if self._served is not None:
            self._served.stop()
            self._served = None

    def __enter__(self: ServedT) -> ServedT:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class MockServer(Served):
    """A started-on-demand live mock. Use as a context manager, or ``start()``/``stop()``."""

    def __init__(self, settings: MockSettings | None = None, *, app: MockApp | None = None) -> None:
        """``app``: serve this one (built by ``create_app`` with ``settings``) instead."""
        from mockserver.http.app import create_app

        self.settings = settings or MockSettings(port=0)
        self.app = app or create_app(self.settings)
        self._port: int | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise ServerStartError("the server is not started")
        return self._port

    @property
    def url(self) -> str:
        """Base URL of the running mock, e.g. ``http://127.0.0.1:54321``."""
        return f"http://{self.settings.host}:{self.port}"

    @property
    def api_key(self) -> str:
        """A key the mock accepts: the first configured one, else a fixed test key."""
        return min(self.settings.api_keys, default=DEFAULT_TEST_KEY)

    @property
    def admin_headers(self) -> dict[str, str]:
        """What a request to the admin API under ``/_mock`` sends: the token, if one is set."""
        token = self.settings.admin_token
        return {} if token is None else {"Authorization": f"Bearer {token}"}

    @property
    def control(self) -> Control:
        """The async API this object calls on the server's loop."""
        return self.app.control

    def _run(self, call: Coroutine[Any, Any, T], timeout: float = CALL_TIMEOUT_SECONDS) -> T:
        if self._served is None:
            call.close()
            raise ServerStartError("the server is not started")
        return call_in_app(self.app, call, timeout)

    @property
    def calls(self) -> tuple[Call, ...]:
        """Every request received since the last reset, oldest first."""
        return self._run(self.control.calls())

    @property
    def tasks(self) -> tuple[Task, ...]:
        return self._run(self.control.tasks())

    def reset(self) -> None:
        """Forget tasks, balances, the journal and deliveries; back to the set scenario."""
        self._run(self.control.reset())

    def scenario(self, directives: str) -> None:
        """Apply directives (``"content-moderated"``, ``"poll-503=2"``) until the next reset."""
        self._run(self.control.set_scenario(directives))

    def calls_where(
        self, *, path: str | None = None, status: int | None = None, verdict: str | None = None
    ) -> tuple[Call, ...]:
        """The journal filtered by path, status and verdict (``"accepted"``/``"rejected"``)."""
        return self._run(self.control.calls(path=path, status=status, verdict=verdict))

    def set_credits(self, api_key: str, credits: float) -> None:
        self._run(self.control.set_credits(api_key, credits))

    @property
    def deliveries(self) -> tuple[Delivery, ...]:
        """Webhook deliveries so far, with every attempt."""
        return self._run(self.control.deliveries())

    def wait_for_deliveries(self, count: int = 1, timeout: float = 5.0) -> tuple[Delivery, ...]:
        """Wait until ``count`` webhooks are delivered, skipped or given up."""
        return self._run(
            self.control.wait_for_deliveries(count, timeout), timeout + CALL_TIMEOUT_SECONDS
        )

    def check(self) -> None:
        """Raise ``ResponseViolation`` if the mock sent a response that breaks the spec."""
        problems = [problem for call in self.calls for problem in call.response_problems]
        if problems:
            raise ResponseViolation("bfl-mock answered off-spec:\n" + "\n".join(problems))

    def check_requests(self) -> None:
        """Raise ``RequestViolation`` listing each request the client sent off the contract."""
        entries = off_contract(self.calls)
        if entries:
            raise RequestViolation(
                f"bfl-mock received {len(entries)} off-contract request(s):\n"
                + "\n".join(f"  {entry}" for entry in entries)
            )

    def start(self) -> MockServer:
        if self._served is not None:
            return self
        sock = listen(self.settings.host, self.settings.port)
        served = BackgroundServer(self.app, [sock], self.settings, name="bfl-mock")
        served.start()
        self._served, self._port = served, sock.getsockname()[1]
        return self
