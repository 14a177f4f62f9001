"""Constants and types shared by the tests (imported as a top-level module)."""

from __future__ import annotations

import ast
import asyncio
import base64
import functools
import http.server
import importlib.metadata
import io
import socket
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TypeVar

import httpx
from hypothesis import settings
from packaging.requirements import Requirement
from PIL import Image
from starlette.testclient import TestClient

from contracts import load_contract
from mockserver.clock import ManualClock
from mockserver.http.admin import Control
from mockserver.state.records import Delivery

TESTS = Path(__file__).resolve().parent
"""The tests' own folder: a folder for each suite, and beside them what the suites share."""
SUITES = ("unit", "http", "contract", "property")
"""The suites, each a folder of TESTS that every test module lives in (contract/property/
holds the contract kit's property tests, which are in both suites)."""
SUITE_MARKERS = {"contract": "contracts", "property": "property"}
"""The marker each suite folder gives its tests, for tox to select by; unit/ and http/ give none."""
ROOT = TESTS.parent
SPECS = TESTS / "specs"
PUBLISHED = ROOT / "mockserver" / "spec" / "published"
FULL_SPEC = PUBLISHED / "bfl-openapi-2026-04-23.json"
"""BFL's spec of April 2026, bundled as ``2026-04-23``."""
OCT_SPEC = PUBLISHED / "bfl-openapi-2026-10.json"
"""BFL's spec of October 2026, bundled as ``2026-10`` (``latest``)."""
T = TypeVar("T")
KEY = "test-key"
AUTH = {"x-key": KEY}
WAIT_SECONDS = 30.0
"""How long a test waits on an event before it fails (events come in milliseconds)."""
SUBMIT = "/v1/flux-pro-1.1"
RESULT = "/v1/get_result"
CREDITS = "/v1/credits"
SEED = load_contract()
"""The contract of the seed spec (the bundled ``openapi.json``)."""
SUBMITTED_KEYS: list[str] = sorted(
    SEED.plain_document()["components"]["schemas"]["AsyncResponse"]["properties"]
)
"""The fields of a submit's answer, sorted, as the seed spec's ``AsyncResponse`` lists them."""
TASK_NOT_FOUND = {
    "status": "Task not found",
    "result": None,
    "progress": None,
    "details": None,
    "preview": None,
}
"""A poll's answer for an id the mock does not know, but the id it names."""
BFL_CHECK_NAMES = (
    "polling_url_is_followable",
    "lifecycle_reaches_final_status",
    "ready_sample_is_requested_image",
    "validation_error_names_broken_field",
)
"""The kit's BFL checks, in the order the registry lists them."""
NOT_ALLOWED = (
    "not sent: the host is not loopback nor in webhook_hosts "
    "(the mock calls only hosts it is allowed to)"
)
"""The note of a webhook delivery the mock refused to send."""


def accepted(task_id: str, webhook_url: str | None = None) -> dict[str, Any]:
    """The mock's answer to a FLUX 1.1 [pro] submit it took, sent through a TestClient.

    The task is to be polled, or with a ``webhook_url`` its end is told there. Its cost
    and megapixels are null on submit, as for every FLUX.1 endpoint.
    """
    taken: dict[str, Any]
    if webhook_url is None:
        taken = {"id": task_id, "polling_url": f"http://testserver{RESULT}?id={task_id}"}
    else:
        taken = {"id": task_id, "status": "Pending", "webhook_url": webhook_url}
    return taken | {"cost": None, "input_mp": None, "output_mp": None}


def suite_markers(path: Path) -> list[str]:
    """The markers of the suite folders ``path`` lies in (none outside TESTS)."""
    if not path.is_relative_to(TESTS):
        return []
    folders = path.relative_to(TESTS).parts[:-1]
    return [SUITE_MARKERS[folder] for folder in folders if folder in SUITE_MARKERS]


def png_bytes(width: int, height: int, colour: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """A real PNG of one colour, to send as an input image."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


def png_base64(width: int, height: int, colour: tuple[int, int, int] = (200, 40, 40)) -> str:
    """``png_bytes`` as raw base64, the way most clients send an image."""
    return base64.b64encode(png_bytes(width, height, colour)).decode()


def fastapi_oracle_missing() -> str | None:
    """Why the FastAPI oracle cannot run here, or None: it needs the release the extra pins."""
    pinned = next(
        requirement
        for requirement in map(Requirement, importlib.metadata.requires("bfl-mock") or [])
        if requirement.name == "fastapi"
    )
    try:
        installed: str | None = importlib.metadata.version("fastapi")
    except importlib.metadata.PackageNotFoundError:
        installed = None
    if installed is not None and installed in pinned.specifier:
        return None
    found = f"FastAPI {installed}" if installed else "no FastAPI"
    return (
        f"the oracle is fastapi{pinned.specifier} (BFL's server), as the test extra pins it; "
        f"this environment has {found} (tox -e newest leaves it out: it holds Starlette back)"
    )


def profile_examples() -> int:
    """Examples per property: the loaded hypothesis profile's (dev: quick, ci: thorough)."""
    return settings().max_examples


def in_app(client: TestClient, call: Coroutine[Any, Any, T]) -> T:
    """Run a call of ``client.app.control`` on the loop ``client`` serves the app on."""
    result: T = client.portal.call(lambda: call)  # type: ignore[union-attr]
    return result


def poll_to_end(client: httpx.Client, polling_url: str, polls: int = 10) -> dict[str, Any]:
    """Poll a task until its status is final (as the seed spec says), within ``polls`` polls."""
    for _ in range(polls):
        body: dict[str, Any] = client.get(polling_url).json()
        if body["status"] in SEED.final_statuses:
            return body
    raise AssertionError(f"the task did not end in {polls} polls: {body}")


def control_of(client: TestClient) -> Control:
    """The admin control of the app ``client`` serves."""
    control: Control = client.app.control  # type: ignore[attr-defined]
    return control


def wait_deliveries(client: TestClient, count: int, timeout: float = 60.0) -> tuple[Delivery, ...]:
    """The webhook deliveries finished once ``count`` are (or ``timeout`` runs out)."""
    return in_app(client, control_of(client).wait_for_deliveries(count, timeout=timeout))


class HeldClock(ManualClock):
    """A manual clock that holds every reply's latency until the test lets it go.

    ``holding`` is set once a reply waits; ``held_for`` keeps the latencies asked for.
    """

    def __init__(self) -> None:
        super().__init__()
        self.holding = threading.Event()
        self.held_for: list[float] = []
        self._released = threading.Event()

    async def sleep(self, seconds: float) -> None:
        self.held_for.append(seconds)
        self.holding.set()
        # In a worker thread: the loop goes on serving while this reply waits.
        await asyncio.to_thread(self._released.wait, WAIT_SECONDS)

    def release(self) -> None:
        self._released.set()


class ClientFactory(Protocol):
    def __call__(self, **settings: Any) -> TestClient: ...


class Received(NamedTuple):
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    """time.monotonic() on arrival."""


class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 that records POSTs and answers ``statuses`` in turn."""

    def __init__(self, statuses: list[int] | None = None, delay: float = 0.0) -> None:
        self.received: list[Received] = []
        self._arrived = threading.Condition()
        self._inside = 0
        self.most_at_once = 0
        """The most requests this receiver was answering at one time."""
        self.statuses = list(statuses or [])
        self.delay = delay
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = self.rfile.read(length)
                with receiver._arrived:
                    receiver.received.append(
                        Received(
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            time.monotonic(),
                        )
                    )
                    receiver._arrived.notify_all()
                    receiver._inside += 1
                    receiver.most_at_once = max(receiver.most_at_once, receiver._inside)
                time.sleep(receiver.delay)
                with receiver._arrived:
                    receiver._inside -= 1
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def wait(self, count: int, timeout: float = 5.0) -> list[Received]:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.received) >= count, timeout)
        return self.received


class HangingReceiver:
    """A port on 127.0.0.1 that takes connections (in its backlog) and never answers."""

    def __init__(self, backlog: int = 128) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(backlog)
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}/hook"

    def __enter__(self) -> HangingReceiver:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._socket.close()


@functools.cache
def tree(path: Path) -> ast.Module:
    """The parsed source of ``path``, read once however many checks walk it."""
    return ast.parse(path.read_text())


def imports_of(path: Path) -> set[str]:
    """The modules ``path`` imports by absolute name, at any depth of its code."""
    found = set()
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found
