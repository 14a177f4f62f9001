"""Webhook bursts through a live mock: every delivery arrives, and polls stay answered.

    python bench/webhook_burst.py [--tasks 1000] [--hanging 200] [--seconds 120]

Two runs, each on a fresh ``bfl-mock serve``: ``--tasks`` tasks with a ``webhook_url``,
submitted 50 at a time and finishing together (``--generation-seconds`` after their submit),
to a receiver in its own process that answers 200 at once; then the same with
``--hanging`` more tasks, interleaved, whose receiver takes connections and never
answers. Meanwhile one task is polled back to back. Each run reports the deliveries the
receiver got (all ``--tasks`` of them is the target), the longest poll while the tasks
are submitted and after (while they end and are delivered), and how long the
mock took to stop on SIGTERM with deliveries still under way.

Loopback only; each run ends by itself within ``--seconds``; only the processes this
script started are stopped (by pid).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import math
import signal
import socket
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import servers
from preparation import SUBMIT_PATH

RECEIVER_PATH = "/hook"
COUNT_PATH = "/count"
SUBMITTERS = 50
POLL_PAUSE_SECONDS = 0.01
LOOK_SECONDS = 0.25
STOP_WAIT_SECONDS = 60.0


@dataclasses.dataclass(frozen=True)
class Figures:
    label: str
    tasks: int
    received: int
    delivered: int
    not_done: int
    submit_seconds: float
    delivery_seconds: float
    polls: int
    longest_poll_during_submits_ms: float
    longest_poll_after_submits_ms: float
    stop_seconds: float = math.nan
    """How long the mock took to stop on SIGTERM, once ``run`` has stopped it."""
    stop_status: int | None = None

    def lines(self) -> list[str]:
        verdict = "PASS" if self.received == self.tasks else "MISS"
        return [
            f"{self.label}",
            f"  delivered to the healthy receiver: {self.received} of {self.tasks} [{verdict}]"
            f" (journal: {self.delivered} delivered, {self.not_done} not done yet)",
            f"  submits: {self.submit_seconds:.1f} s; last delivery "
            f"{self.delivery_seconds:.1f} s after the first submit",
            f"  polls: {self.polls}; longest while submitting "
            f"{self.longest_poll_during_submits_ms:.0f} ms, while delivering "
            f"{self.longest_poll_after_submits_ms:.0f} ms",
            f"  stop on SIGTERM: {self.stop_seconds:.2f} s, exit status {self.stop_status}",
        ]


def serve_receiver(port: int) -> None:
    """The receiver process: answers every POST 200 at once and counts them."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    received = 0

    async def hook(request: Request) -> Response:
        nonlocal received
        await request.body()
        received += 1
        return Response(status_code=200)

    async def count(request: Request) -> Response:
        return JSONResponse({"received": received})

    app = Starlette(routes=[Route(RECEIVER_PATH, hook, methods=["POST"]), Route(COUNT_PATH, count)])
    uvicorn.run(app, host=servers.HOST, port=port, log_level="warning", lifespan="off")


async def submit_all(client: httpx.AsyncClient, urls: list[str]) -> list[str]:
    """Submit one task per webhook URL, ``SUBMITTERS`` at a time; their ids."""
    ids: list[str] = [""] * len(urls)
    jobs = iter(enumerate(urls))

    async def submitter() -> None:
        for index, url in jobs:
            body = {"prompt": f"burst {index}", "webhook_url": url}
            answer = await client.post(SUBMIT_PATH, json=body, headers={"x-key": "bench"})
            answer.raise_for_status()
            ids[index] = answer.json()["id"]

    await asyncio.gather(*(submitter() for _ in range(SUBMITTERS)))
    return ids


async def poll_until(
    client: httpx.AsyncClient, task_id: str, done: asyncio.Event
) -> list[tuple[float, float]]:
    """Poll ``task_id`` back to back until ``done``; when each poll ended, and its ms."""
    times = []
    while not done.is_set():
        started = time.perf_counter()
        answer = await client.get("/v1/get_result", params={"id": task_id})
        answer.raise_for_status()
        ended = time.perf_counter()
        times.append((ended, (ended - started) * 1000))
        await asyncio.sleep(POLL_PAUSE_SECONDS)
    return times


async def burst(
    label: str, mock: str, receiver: str, hanging: str, tasks: int, stuck: int, seconds: float
) -> Figures:
    healthy = receiver + RECEIVER_PATH
    # Interleaved: the hanging receiver's deliveries are spread through the queue.
    every = max(1, (tasks + stuck) // stuck) if stuck else 0
    urls, left = [], stuck
    for index in range(tasks + stuck):
        if left and every and index % every == 0:
            urls.append(hanging)
            left -= 1
        else:
            urls.append(healthy)
    limits = httpx.Limits(max_connections=SUBMITTERS + 2)
    async with (
        httpx.AsyncClient(base_url=mock, timeout=seconds, limits=limits) as client,
        httpx.AsyncClient(base_url=mock, timeout=seconds) as poller,
        httpx.AsyncClient(base_url=receiver, timeout=seconds) as counter,
    ):
        first = await client.post(
            SUBMIT_PATH, json={"prompt": "polled"}, headers={"x-key": "bench"}
        )
        first.raise_for_status()
        done = asyncio.Event()
        polling = asyncio.create_task(poll_until(poller, first.json()["id"], done))
        started = time.monotonic()
        await submit_all(client, urls)
        submitted = time.monotonic() - started
        submits_ended = time.perf_counter()
        deadline = started + seconds
        received = 0
        while time.monotonic() < deadline:
            received = (await counter.get(COUNT_PATH)).json()["received"]
            if received >= tasks:
                break
            await asyncio.sleep(LOOK_SECONDS)
        delivered_after = time.monotonic() - started
        done.set()
        polls = await polling
        journal = (await client.get("/_mock/webhooks")).json()
    delivered = sum(entry["delivered"] for entry in journal)
    not_done = sum(
        not (entry["delivered"] or entry["skipped"] or entry["note"]) for entry in journal
    )
    during_submits = [ms for ended, ms in polls if ended <= submits_ended]
    after_submits = [ms for ended, ms in polls if ended > submits_ended]
    return Figures(
        label=label,
        tasks=tasks,
        received=received,
        delivered=delivered,
        not_done=not_done,
        submit_seconds=submitted,
        delivery_seconds=delivered_after,
        polls=len(polls),
        longest_poll_during_submits_ms=max(during_submits, default=0.0),
        longest_poll_after_submits_ms=max(after_submits, default=0.0),
    )


def run(label: str, tasks: int, stuck: int, seconds: float, generation: float) -> Figures:
    flags = [
        "--generation-seconds", str(generation), "--max-active-tasks", str(10 * (tasks + stuck)),
        "--credits", "1e12", "--task-limit", str(10 * (tasks + stuck)),
    ]  # fmt: skip
    receiver_argv = [sys.executable, __file__, "--receiver", "--port", "{port}"]
    with (
        socket.socket() as hanging_socket,
        servers.running("receiver", receiver_argv, probe=COUNT_PATH, pin=[]) as receiver,
        servers.running(
            "bfl-mock", servers.mock_argv(*flags), probe="/openapi.json", pin=[]
        ) as mock,
    ):
        # Connections wait in the backlog, never taken: a receiver that hangs.
        hanging_socket.bind((servers.HOST, 0))
        hanging_socket.listen(4096)
        hanging = f"http://{servers.HOST}:{hanging_socket.getsockname()[1]}{RECEIVER_PATH}"
        figures = asyncio.run(burst(label, mock.url, receiver.url, hanging, tasks, stuck, seconds))
        stop_seconds, status = mock.signalled(signal.SIGTERM, STOP_WAIT_SECONDS)
    return dataclasses.replace(figures, stop_seconds=stop_seconds, stop_status=status)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--hanging", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--generation-seconds", type=float, default=5.0)
    parser.add_argument("--receiver", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        serve_receiver(args.port)
        return 0
    runs = [("burst to one receiver", 0), ("burst with a hanging receiver", args.hanging)]
    results = [
        run(f"{label}: {args.tasks} tasks" + (f" + {stuck} hanging" if stuck else ""),
            args.tasks, stuck, args.seconds, args.generation_seconds)
        for label, stuck in runs
    ]  # fmt: skip
    print("\n".join(itertools.chain.from_iterable(result.lines() for result in results)))
    return 0 if all(result.received == result.tasks for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
