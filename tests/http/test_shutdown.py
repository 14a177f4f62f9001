"""Stopping the mock: capped delays, and SIGTERM at any time ends it cleanly and soon."""

from __future__ import annotations

import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from mockserver.domain import scenarios
from mockserver.domain.scenarios import MAX_LATENCY_SECONDS, MAX_SLOW_SECONDS, Target
from mockserver.serving.server import CUT_AT_SHUTDOWN

from support import SUBMIT, HangingReceiver

STOP_WAIT_SECONDS = 30.0
"""Far less than the 60 s trickle under way: a stop that waited for it would not come."""


def test_slow_and_latency_directives_are_capped() -> None:
    fault = scenarios.parse("slow=1e9, latency=1e9").fault(Target.POLL)
    assert fault.slow == MAX_SLOW_SECONDS == 300.0
    assert fault.latency is not None
    assert fault.latency.draw(random.Random(0)) == MAX_LATENCY_SECONDS == 300.0


@pytest.fixture
def served() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``bfl-mock serve`` on a free loopback port, with a one-second grace period."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--port", "0", "--timing", "polls",
         "--shutdown-grace-seconds", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        match = re.search(r" on (http://127\.0\.0\.1:\d+)", banner)
        assert match, banner
        yield process, match.group(1)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=STOP_WAIT_SECONDS)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def refusing(origin: str) -> bool:
    """Whether the mock's port refuses connections (it stopped listening)."""
    host, port = origin.removeprefix("http://").rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=STOP_WAIT_SECONDS).close()
    except ConnectionRefusedError:
        return True
    return False


@pytest.mark.parametrize(
    "stops",
    [(signal.SIGTERM,), (signal.SIGINT,), (signal.SIGINT, signal.SIGINT)],
    ids=["sigterm", "ctrl-c", "ctrl-c-twice"],
)
def test_a_stop_cuts_a_slow_reply_and_exits_0(
    served: tuple[subprocess.Popen[str], str], stops: tuple[signal.Signals, ...]
) -> None:
    process, origin = served
    with HangingReceiver() as hanging, httpx.Client(base_url=origin, timeout=60) as http:
        hooked = http.post(
            SUBMIT, json={"prompt": "x", "webhook_url": hanging.url}, headers={"x-key": "k"}
        )
        assert hooked.status_code == 200, hooked.text
        slow = {"x-key": "k", "x-bfl-mock": "slow=60"}
        with http.stream("POST", SUBMIT, json={"prompt": "x"}, headers=slow) as reply:
            assert reply.status_code == 200  # the headers are out, the body trickles
            process.send_signal(stops[0])
            if len(stops) > 1:
                # The second Ctrl+C once the first is under way (the port is closed first).
                deadline = time.monotonic() + STOP_WAIT_SECONDS
                while not refusing(origin) and time.monotonic() < deadline:
                    time.sleep(0.01)
                process.send_signal(stops[1])
            _, errors = process.communicate(timeout=STOP_WAIT_SECONDS)
            with pytest.raises(httpx.RemoteProtocolError):
                reply.read()
    assert process.returncode == 0, errors
    assert "bfl-mock: 1 webhook deliveries abandoned at shutdown" in errors
    assert CUT_AT_SHUTDOWN in errors
    assert "Traceback" not in errors, errors
