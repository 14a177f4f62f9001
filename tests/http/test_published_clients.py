"""Published clients in other languages, unchanged, against a live mock (``tests/clients/``).

The Vercel AI SDK's Black Forest Labs provider (``tests/clients/ai-sdk``, versions pinned by
its ``package-lock.json``) edits an image with flux-kontext-pro through the October 2026
spec. ``npm ci`` installs it once per session; the test is skipped only when ``node`` or
``npm`` is missing. The last tests pin down where the provider parts from the real API.
"""

from __future__ import annotations

import base64
import dataclasses
import itertools
import json
import selectors
import shutil
import socket
import socketserver
import subprocess
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from mockserver.serving.server import MockServer
from mockserver.settings import MockSettings, Timing
from mockserver.spec.openapi import TaskStatus
from mockserver.state.records import Call

from support import TESTS

AI_SDK = TESTS / "clients" / "ai-sdk"
EDIT = AI_SDK / "edit.mjs"
KONTEXT = "flux-kontext-pro"
PROMPT = "make it a watercolour"
POLLS_UNTIL_READY = 2
# Hang guards for the processes these tests start, never expectations of speed.
NPM_CI_TIMEOUT = 900.0
CLIENT_TIMEOUT = 300.0
LOOPBACK = "127.0.0.1"


@dataclasses.dataclass(frozen=True)
class AiSdk:
    node: str
    versions: dict[str, str]
    """Installed version of each package, keyed by its path in the lock file."""

    def version(self, package: str, used_by: str | None = None) -> str:
        """The version of ``package`` that Node resolves (from ``used_by``, if given)."""
        nested = f"node_modules/{used_by}/node_modules/{package}"
        return self.versions.get(nested) or self.versions[f"node_modules/{package}"]


@pytest.fixture(scope="session")
def ai_sdk() -> AiSdk:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are not on PATH: the AI SDK client cannot run")
    # The packages ship no install scripts; --ignore-scripts keeps it so.
    command = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"]
    done = subprocess.run(
        command, cwd=AI_SDK, capture_output=True, text=True, timeout=NPM_CI_TIMEOUT
    )
    if done.returncode != 0:
        pytest.fail(f"npm ci failed in {AI_SDK} ({done.returncode}):\n{done.stderr}")
    lock = json.loads((AI_SDK / "package-lock.json").read_text())
    versions = {path: entry["version"] for path, entry in lock["packages"].items() if path}
    return AiSdk(node=node, versions=versions)


class _Pipe(socketserver.BaseRequestHandler):
    """Carries one connection's bytes both ways until either side closes."""

    server: RegionalHost

    def handle(self) -> None:
        client: socket.socket = self.request
        with (
            socket.create_connection((LOOPBACK, self.server.target)) as upstream,
            selectors.DefaultSelector() as selector,
        ):
            peer = {client: upstream, upstream: client}
            for end in peer:
                selector.register(end, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    readable = client if key.fileobj is client else upstream
                    data = readable.recv(65536)
                    if not data:
                        return
                    peer[readable].sendall(data)


class RegionalHost(socketserver.ThreadingTCPServer):
    """A second origin of the mock: a TCP relay on another loopback port.

    The real API answers a submit with a ``polling_url`` on the regional host that took
    the task (``api.us1.bfl.ai`` for a submit to ``api.bfl.ai``), and its docs say never
    to rebuild that URL. With the mock's ``public_url`` set to this relay, a client that
    follows ``polling_url`` polls here, while one that rebuilds it from its base URL
    polls the mock directly: the Host header in the journal tells which.
    """

    def __init__(self) -> None:
        super().__init__((LOOPBACK, 0), _Pipe)
        self.target = 0
        self._thread = threading.Thread(target=self.serve_forever, name="regional-host")

    @property
    def netloc(self) -> str:
        return f"{LOOPBACK}:{self.server_address[1]}"

    def relay_to(self, port: int) -> None:
        self.target = port
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self.shutdown()
            self._thread.join()
        self.server_close()  # joins the connections' threads


@pytest.fixture
def regional_host() -> Iterator[RegionalHost]:
    host = RegionalHost()
    yield host
    host.stop()


@pytest.fixture
def server(regional_host: RegionalHost) -> Iterator[MockServer]:
    settings = MockSettings(
        port=0,
        spec=Path("latest"),
        timing=Timing.POLLS,
        polls_until_ready=POLLS_UNTIL_READY,
        seed=0,
        strict=True,
        public_url=f"http://{regional_host.netloc}",
    )
    with MockServer(settings) as server:
        regional_host.relay_to(server.port)
        yield server


@dataclasses.dataclass(frozen=True)
class Edit:
    input: Path
    output: Path
    process: subprocess.CompletedProcess[str]

    @property
    def error(self) -> dict[str, Any]:
        """The client's error, the last line it wrote on stderr."""
        error: dict[str, Any] = json.loads(self.process.stderr.splitlines()[-1])
        return error


def run_edit(
    ai_sdk: AiSdk, server: MockServer, tmp_path: Path, size: tuple[int, int], *options: str
) -> Edit:
    source, output = tmp_path / "input.png", tmp_path / "output.png"
    Image.new("RGB", size, (30, 90, 200)).save(source)
    arguments = ["--base-url", server.url, "--api-key", server.api_key, "--model", KONTEXT]
    arguments += ["--image", str(source), "--output", str(output), "--prompt", PROMPT]
    # subprocess.run kills the client (and only it) if it outlives the guard.
    process = subprocess.run(
        [ai_sdk.node, str(EDIT), *arguments, *options],
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT,
    )
    return Edit(source, output, process)


def answer(call: Call) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(call.response_body)
    return body


def target(call: Call) -> tuple[str, str, str, str | None]:
    """Where a request went: method, path, query and the Host it named."""
    return call.method, call.path, call.query, call.header("host")


def url_target(method: str, url: str) -> tuple[str, str, str, str]:
    parts = urllib.parse.urlsplit(url)
    return method, parts.path, parts.query, parts.netloc


EDITS = [
    # ~1 MP at the input's shape: the nearest open-weights Kontext bucket.
    ((1600, 900), (1392, 752)),
    ((600, 800), (880, 1184)),
]


@pytest.mark.parametrize(("input_size", "output_size"), EDITS)
def test_the_ai_sdk_completes_a_kontext_edit(
    ai_sdk: AiSdk,
    server: MockServer,
    regional_host: RegionalHost,
    tmp_path: Path,
    input_size: tuple[int, int],
    output_size: tuple[int, int],
) -> None:
    edit = run_edit(ai_sdk, server, tmp_path, input_size)

    assert edit.process.returncode == 0, edit.process.stderr
    with Image.open(edit.output) as image:
        assert (image.format, image.size) == ("PNG", output_size)
    submit, *polls, download = server.calls
    server.check_requests()
    server.check()

    # The submit: the prompt and the input as bare base64 (the SDK turns bytes and data
    # URIs alike into it), nothing else, with the key. The provider's own user-agent
    # token is lost: the SDK's `ai/…` header replaces it when the two are combined.
    assert target(submit) == url_target("POST", f"{server.url}/v1/{KONTEXT}")
    assert json.loads(submit.body) == {
        "prompt": PROMPT,
        "input_image": base64.b64encode(edit.input.read_bytes()).decode(),
    }
    assert submit.header("x-key") == server.api_key
    assert submit.header("content-type") == "application/json"
    user_agent = f"ai/{ai_sdk.version('ai')} ai-sdk/provider-utils/"
    user_agent += ai_sdk.version("@ai-sdk/provider-utils", "@ai-sdk/black-forest-labs")
    assert (submit.header("user-agent") or "").startswith(user_agent + " runtime/node.js/")
    assert "ai-sdk/black-forest-labs" not in (submit.header("user-agent") or "")

    # The polls: the polling_url verbatim, at its (regional) host, with the key, and at
    # least the provider's default interval (500 ms) apart.
    polling_url = answer(submit)["polling_url"]
    assert urllib.parse.urlsplit(polling_url).netloc == regional_host.netloc
    assert [target(poll) for poll in polls] == [url_target("GET", polling_url)] * 3
    assert [poll.header("x-key") for poll in polls] == [server.api_key] * 3
    assert [answer(poll)["status"] for poll in polls] == ["Pending"] * POLLS_UNTIL_READY + ["Ready"]
    assert all(later.at - earlier.at >= 0.5 for earlier, later in itertools.pairwise(polls))

    # The download: result.sample, with the key sent along to the sample's host too.
    result = answer(polls[-1])["result"]
    assert target(download) == url_target("GET", result["sample"])
    assert download.header("x-key") == server.api_key
    # The journal keeps no media (its memory is bounded): the sample, fetched again, is
    # what the SDK saved.
    assert (download.response_body, download.truncated) == (b"", ("response_body",))
    assert httpx.get(result["sample"]).content == edit.output.read_bytes()

    assert json.loads(edit.process.stdout) == {
        "bytes": edit.output.stat().st_size,
        "mediaType": "image/png",
        "providerMetadata": {
            "blackForestLabs": {
                "images": [
                    {key: result[key] for key in ("seed", "start_time", "end_time", "duration")}
                ]
            }
        },
        "warnings": [],
        "modelId": KONTEXT,
    }


# Where the provider parts from the real API. Each test asserts what the provider does
# today; the provider's poll interval is cut to 1 ms to keep them quick.
FAST_POLLS = ("--poll-interval-ms", "1")


def test_a_failed_poll_makes_the_ai_sdk_submit_the_edit_again(
    ai_sdk: AiSdk, server: MockServer, tmp_path: Path
) -> None:
    # One transient 503 on a poll: generateImage's retry (maxRetries 2 by default) reruns
    # the provider's whole submit-and-poll, so a second task is submitted and the first
    # one abandoned, where polling the same polling_url again would have done.
    server.scenario("poll-503=1")
    edit = run_edit(ai_sdk, server, tmp_path, (1600, 900), *FAST_POLLS)

    assert edit.process.returncode == 0, edit.process.stderr
    sent = [(call.method, call.path, call.status) for call in server.calls]
    poll = ("GET", "/v1/get_result")
    assert sent == [
        ("POST", f"/v1/{KONTEXT}", 200),
        (*poll, 503),
        ("POST", f"/v1/{KONTEXT}", 200),
        (*poll, 200),
        (*poll, 200),
        (*poll, 200),
        ("GET", sent[-1][1], 200),
    ]
    first, second = server.tasks
    # The 503 answered in place of the first task's only poll: it was never seen again.
    assert (first.polls, first.status, second.status) == (0, TaskStatus.PENDING, TaskStatus.READY)
    assert json.loads(server.calls[0].body) == json.loads(server.calls[2].body)
    server.check_requests()


def test_the_ai_sdk_reports_content_moderated_as_an_invalid_response(
    ai_sdk: AiSdk, server: MockServer, tmp_path: Path
) -> None:
    # "Content Moderated" is a status of the spec's StatusResponse, but not of the
    # provider's poll schema: the answer fails validation, and the moderation reasons in
    # details never reach the caller.
    server.scenario("content-moderated")
    edit = run_edit(ai_sdk, server, tmp_path, (1600, 900), *FAST_POLLS)

    assert edit.process.returncode == 1
    assert edit.error == {"name": "AI_APICallError", "message": "Invalid JSON response"}
    last = answer(server.calls[-1])
    assert (last["status"], last["details"]) == (
        "Content Moderated",
        {"Moderation Reasons": ["Safety Filter"]},
    )
    assert len(server.calls) == 1 + POLLS_UNTIL_READY + 1
    server.check_requests()


def test_the_ai_sdk_polls_a_moderated_request_until_its_timeout(
    ai_sdk: AiSdk, server: MockServer, tmp_path: Path
) -> None:
    # "Request Moderated" is final, but the provider stops only on Ready, Error and
    # Failed: it polls on until pollTimeoutMillis / pollIntervalMillis polls are spent
    # (120 polls over a minute with its defaults), then says it timed out.
    server.scenario("request-moderated")
    edit = run_edit(ai_sdk, server, tmp_path, (1600, 900), *FAST_POLLS, "--poll-timeout-ms", "20")

    assert edit.process.returncode == 1
    assert edit.error == {"name": "Error", "message": "Black Forest Labs generation timed out."}
    submit, *polls = server.calls
    assert [answer(poll)["status"] for poll in polls] == ["Request Moderated"] * 20
    server.check_requests()
