"""The figures measured apart from the loads.

Start-up, the solo runs, the in-process protocol, and how long a poll waits while a
large image renders.

Every run is bounded in time, on loopback, against servers this process started.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import servers
from preparation import (
    BENCH_DIR,
    KEY,
    MOCK,
    PROMPT,
    READY_NOW,
    SOLO_RUNS,
    STARTUP_SAMPLES,
    SUBMIT_PATH,
    VALID_BODY,
    Plan,
    poll,
    submit,
)

T = TypeVar("T")


def solo_figures(plan: Plan) -> dict[str, Any]:
    """Start-up, renders, the event loop during a render, in-process cycles, protocol CPU."""
    pin = plan.server_pin
    return {
        "startup_mock_s": startup_seconds(servers.mock_argv(), pin, STARTUP_SAMPLES),
        "startup_ceiling_s": startup_seconds(servers.ceiling_argv(), pin, STARTUP_SAMPLES),
        "render": median_run("render", pin),
        "loop": loop_while_rendering(pin),
        "cycles_strict": median_run("cycles", pin, "--strict"),
        "cycles_lenient": median_run("cycles", pin, "--no-strict"),
        "protocol": protocol_figures(pin),
    }


def startup_seconds(argv: list[str], pin: list[str], samples: int) -> list[float]:
    """Seconds from process start to the first 200 on a submit, ``samples`` times."""
    figures = []
    for _ in range(samples):
        port = servers.free_port()
        command = [*pin, *[arg.format(port=port) for arg in argv]]
        started = time.monotonic()
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=BENCH_DIR.parent
        )
        try:
            deadline = started + servers.READY_TIMEOUT_SECONDS
            while not _submit_answers_200(port):
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{command} gave no 200")
                time.sleep(0.002)
            figures.append(time.monotonic() - started)
        finally:
            os.kill(process.pid, signal.SIGINT)
            process.wait(servers.STOP_TIMEOUT_SECONDS)
    return figures


def _submit_answers_200(port: int) -> bool:
    connection = http.client.HTTPConnection(servers.HOST, port, timeout=2)
    try:
        connection.request(
            "POST",
            SUBMIT_PATH,
            body=VALID_BODY,
            headers={"x-key": KEY, "content-type": "application/json"},
        )
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def json_run(pin: list[str], script: str, *args: str, timeout: float) -> Any:
    """Run ``bench/SCRIPT ARGS`` in a fresh process; what it printed last, as JSON."""
    done = subprocess.run(
        [*pin, sys.executable, str(BENCH_DIR / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{script} {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def solo(what: str, pin: list[str], *flags: str) -> dict[str, float]:
    figures: dict[str, float] = json_run(pin, "solo.py", what, *flags, timeout=300)
    return figures


def median_run(what: str, pin: list[str], *flags: str) -> dict[str, float]:
    """Each figure of ``solo.py WHAT``: the median of SOLO_RUNS fresh processes."""
    runs = [solo(what, pin, *flags) for _ in range(SOLO_RUNS)]
    return {name: statistics.median(run[name] for run in runs) for name in runs[0]}


def protocol_figures(pin: list[str]) -> dict[str, dict[str, float]]:
    """``bench/protocol.py``: each row's CPU µs per request, the median of SOLO_RUNS runs."""
    runs = [json_run(pin, "protocol.py", timeout=600) for _ in range(SOLO_RUNS)]
    return {
        row: {key: statistics.median(run[row][key] for run in runs) for key in runs[0][row]}
        for row in runs[0]
    }


def loop_while_rendering(pin: list[str]) -> dict[str, float]:
    """Poll latency while the server renders a large image, to show the loop stays free.

    A fresh 1440x1440 png is downloaded (rendered on demand) while another client
    polls as fast as it can; if the render ran on the event loop, one poll would wait
    for all of it.
    """
    with servers.running(
        MOCK, servers.mock_argv(*READY_NOW), probe="/openapi.json", pin=pin
    ) as mock:
        big = json.dumps({"prompt": PROMPT, "width": 1440, "height": 1440, "output_format": "png"})
        sample = poll(submit(mock.url, big)["polling_url"], "Ready")["result"]["sample"]
        polling_url = submit(mock.url, VALID_BODY)["polling_url"]
        _, download_ms, polls = polled_while(
            polling_url, lambda: httpx.get(sample, timeout=30).raise_for_status()
        )
    return {"download_ms": download_ms, "longest_poll_ms": polls.longest_ms}


@dataclasses.dataclass(frozen=True)
class Polls:
    """The polls of another task that were answered while something else ran."""

    answered: int
    longest_ms: float


def polled_while(
    polling_url: str, action: Callable[[], T], poller: httpx.Client | None = None
) -> tuple[T, float, Polls]:
    """``action``'s result and wall time (ms), run in a thread while another task is polled.

    The polls go back to back over a connection of their own (``poller``'s, else a new
    client's), opened before the action starts: if the server's event loop were busy
    with the action, one poll would wait for all of it.
    """
    outcome: list[T] = []
    failure: list[BaseException] = []
    wall_ms: list[float] = []

    def act() -> None:
        started = time.perf_counter()
        try:
            outcome.append(action())
        except BaseException as error:  # re-raised below, in the caller's thread
            failure.append(error)
        wall_ms.append((time.perf_counter() - started) * 1000)

    answered, longest = 0, 0.0
    with contextlib.ExitStack() as stack:
        client = poller or stack.enter_context(httpx.Client())
        client.get(polling_url).raise_for_status()  # connected before the action starts
        worker = threading.Thread(target=act)
        worker.start()
        while worker.is_alive():
            started = time.perf_counter()
            client.get(polling_url).raise_for_status()
            longest = max(longest, (time.perf_counter() - started) * 1000)
            answered += 1
        worker.join()
    if failure:
        raise failure[0]
    return outcome[0], wall_ms[0], Polls(answered, longest)
