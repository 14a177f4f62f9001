"""Shared state under load: the mock on Redis, with one process and two, measured in one run.

    python bench/shared_load.py [--seconds 5] [--submits 10000]      (tox -e bench-shared)

Part 1, throughput, with wrk as ``bench/run.py`` drives it: submits and polls per second, p99,
the servers' CPU per request and Redis round trips per request (Redis's own command count,
``INFO commandstats``), for the bare Starlette ceiling, the mock on its in-memory store, and
the mock on Redis with one worker and with two (``--workers 2``, one port).

Part 2, a load test: ``--submits`` tasks over two mock processes sharing one Redis, each
task polled on the other process (lost tasks and 5xx counted); 200 concurrent submits on a
key holding ten images' credits, spread over both (accepted, final balance); 500 webhook
tasks spread over both, each delivery counted at a local receiver (duplicates, missing).

Everything is on loopback: a ``redis-server`` in a temporary folder, the servers and the
receiver on free ports; each part is bounded in count and time and everything started here
is stopped by its pid.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import servers
import uvicorn
from loadgen import Generator, Load, Request, ensure_wrk
from preparation import KEY, NEVER_READY, READY_NOW, SUBMIT_PATH, UNLIMITED, VALID_BODY
from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import Response
from starlette.routing import Route

CONNECTIONS = 50
REDIS_READY = "Ready to accept connections"
LOAD_CONCURRENCY = 100
LOAD_TIMEOUT_SECONDS = 300.0
POLLS_PER_TASK = 50
CREDIT_RACE_SUBMITS = 200
CREDIT_RACE_IMAGES = 10
WEBHOOK_TASKS = 500
WEBHOOK_WAIT_SECONDS = 120.0


# -- Redis, on loopback, in a temporary folder -----------------------------------------------


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed (apt-get install redis-server)")
    port = servers.free_port()
    with tempfile.TemporaryDirectory(prefix="bfl-mock-bench-redis-") as folder:
        argv = [binary, "--port", str(port), "--bind", servers.HOST, "--dir", folder,
                "--save", "", "--appendonly", "no", "--loglevel", "warning"]  # fmt: skip
        # Its log goes to a file, so a chatty server can never block on a full pipe.
        with open(Path(folder) / "redis.log", "w+") as log:
            process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
            try:
                wait_for_redis(port, process)
                yield f"redis://{servers.HOST}:{port}/0"
            finally:
                process.terminate()
                process.wait(servers.STOP_TIMEOUT_SECONDS)


def wait_for_redis(port: int, process: subprocess.Popen[bytes]) -> None:
    import redis

    deadline = time.monotonic() + servers.READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit("redis-server stopped at start")
        try:
            redis.Redis(host=servers.HOST, port=port).ping()
            return
        except redis.ConnectionError:
            time.sleep(0.01)
    sys.exit("redis-server did not answer")


@dataclasses.dataclass(frozen=True)
class RedisCounters:
    round_trips: int
    """Read events Redis processed: one per request a client sent (a pipeline is one)."""
    commands: int
    """Commands run, those a Lua script runs included."""
    memory_bytes: int

    def __sub__(self, other: RedisCounters) -> RedisCounters:
        return RedisCounters(
            self.round_trips - other.round_trips,
            self.commands - other.commands,
            self.memory_bytes - other.memory_bytes,
        )


COUNTING_REQUESTS = 3
"""The INFO requests ``redis_counters`` sends, taken off what it counts."""


def redis_counters(url: str) -> RedisCounters:
    import redis

    with redis.Redis.from_url(url) as client:
        commands = sum(int(entry["calls"]) for entry in client.info("commandstats").values())
        reads = int(client.info("stats")["total_reads_processed"])
        memory = int(client.info("memory")["used_memory"])
    return RedisCounters(reads, commands, memory)


# -- Part 1: throughput ------------------------------------------------------------------------


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and its descendants (``--workers`` runs one child per worker)."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        pending += [int(child) for child in children]
    return total


@dataclasses.dataclass(frozen=True)
class Figure:
    server: str
    request: str
    load: Load
    cpu_ms_per_request: float
    redis: RedisCounters | None
    """What Redis did for the whole row."""

    def per_request(self, count: int) -> float:
        return count / max(self.load.requests, 1)


def measure(
    generator: Generator, server: servers.Server, kind: str, request: Request, seconds: float,
    redis_url: str | None,
) -> Figure:  # fmt: skip
    generator.run(server.url, request, seconds=1.0, connections=CONNECTIONS)  # warm-up
    before = redis_counters(redis_url) if redis_url else None
    cpu_before = tree_cpu_seconds(server.pid)
    load = generator.run(server.url, request, seconds=seconds, connections=CONNECTIONS)
    cpu = tree_cpu_seconds(server.pid) - cpu_before
    used = None
    if redis_url and before:
        counted = redis_counters(redis_url) - before
        used = RedisCounters(
            counted.round_trips - COUNTING_REQUESTS,
            counted.commands - COUNTING_REQUESTS,
            counted.memory_bytes,
        )
    return Figure(server.name, kind, load, 1000 * cpu / max(load.requests, 1), used)


def ready_task(url: str) -> str:
    with httpx.Client(base_url=url) as client:
        submitted = client.post(SUBMIT_PATH, content=VALID_BODY, headers=json_headers(KEY))
        submitted.raise_for_status()
        task_id: str = submitted.json()["id"]
        client.get("/v1/get_result", params={"id": task_id}).raise_for_status()
        return task_id


def json_headers(key: str) -> dict[str, str]:
    return {"x-key": key, "content-type": "application/json"}


def throughput(generator: Generator, redis_url: str, seconds: float) -> list[Figure]:
    server_pin, _load_pin = servers.pinning()
    setups: list[tuple[str, list[str], str | None]] = [
        ("ceiling", servers.ceiling_argv(), None),
        ("memory, 1 worker", servers.mock_argv(*UNLIMITED), None),
        ("redis, 1 worker", servers.mock_argv(*UNLIMITED, "--store", redis_url), redis_url),
        ("redis, 2 workers",
         servers.mock_argv(*UNLIMITED, "--store", redis_url, "--workers", "2"), redis_url),
    ]  # fmt: skip
    figures = []
    for name, argv, store in setups:
        # Two workers need two cores: pinning them to one would measure the pin.
        pin = [] if "--workers" in argv else server_pin
        for kind, flags in (("submit", NEVER_READY), ("poll", READY_NOW)):
            mock_flags = flags if name != "ceiling" else ()
            with servers.running(name, [*argv, *mock_flags], probe="/", pin=pin) as server:
                if kind == "submit":
                    request = Request("POST", SUBMIT_PATH, VALID_BODY, KEY)
                else:
                    task = ready_task(server.url) if name != "ceiling" else "x"
                    request = Request("GET", f"/v1/get_result?id={task}")
                figures.append(measure(generator, server, kind, request, seconds, store))
                print(describe(figures[-1]), flush=True)
    return figures


def describe(figure: Figure) -> str:
    calls = (
        f", {figure.per_request(figure.redis.commands):.1f} Redis commands"
        if figure.redis is not None
        else ""
    )
    return (
        f"{figure.server:>17} {figure.request:>6}: {figure.load.rate:8.0f} req/s, "
        f"p99 {figure.load.p99_ms:6.1f} ms, {figure.cpu_ms_per_request:.3f} CPU ms/request{calls}"
        f", {figure.load.non2xx} non-2xx, {figure.load.socket_errors} socket errors"
    )


ROUND_TRIP_REQUESTS = 500


def round_trips(redis_url: str) -> dict[str, float]:
    """Redis round trips per submit and per poll, one request at a time.

    Counted as the read events Redis processed: exact for one connection sending one
    request at a time (under load, one request's bytes may take two reads). The journal's
    batched writes and the scenario's refresh, a few a second, are included.
    """
    found = {}
    for kind, flags in (("submit", NEVER_READY), ("poll", READY_NOW)):
        argv = servers.mock_argv(*UNLIMITED, *flags, "--store", redis_url)
        with (
            servers.running("redis, 1 worker", argv, probe="/", pin=[]) as server,
            httpx.Client(base_url=server.url) as client,
        ):
            task = ready_task(server.url)
            before = redis_counters(redis_url)
            for _ in range(ROUND_TRIP_REQUESTS):
                if kind == "submit":
                    client.post(SUBMIT_PATH, content=VALID_BODY, headers=json_headers(KEY))
                else:
                    client.get("/v1/get_result", params={"id": task})
            used = redis_counters(redis_url) - before
            found[kind] = (used.round_trips - COUNTING_REQUESTS) / ROUND_TRIP_REQUESTS
            print(f"Redis round trips per {kind}: {found[kind]:.2f}", flush=True)
    return found


# -- Part 2: the load test on two processes ----------------------------------------------------


@dataclasses.dataclass
class LoadTest:
    submits: int = 0
    lost: int = 0
    server_errors: int = 0
    credit_race_accepted: int = 0
    credit_race_refused: dict[int, int] = dataclasses.field(default_factory=dict)
    credit_race_final_balance: float = math.nan
    webhooks_received: int = 0
    webhook_duplicates: int = 0
    webhook_missing: int = 0
    webhooks_unsettled: int = 0
    redis_bytes_per_task: float = math.nan
    seconds: float = 0.0


async def submit_and_poll_elsewhere(
    submitter: httpx.AsyncClient, poller: httpx.AsyncClient, gate: asyncio.Semaphore,
    result: LoadTest,
) -> None:  # fmt: skip
    async with gate:
        answer = await submitter.post(SUBMIT_PATH, content=VALID_BODY, headers=json_headers(KEY))
        result.submits += 1
        if answer.status_code >= 500:
            result.server_errors += 1
            return
        task_id = answer.json()["id"]
        for _ in range(POLLS_PER_TASK):
            poll = await poller.get("/v1/get_result", params={"id": task_id})
            if poll.status_code >= 500:
                result.server_errors += 1
                continue
            status = poll.json()["status"]
            if status == "Ready":
                return
            if status == "Task not found":
                break
            await asyncio.sleep(0.05)  # the client's polling interval, as an SDK's
        result.lost += 1


async def credit_race(pair: list[httpx.AsyncClient], result: LoadTest) -> None:
    key = "bench-ten-images"
    admin = pair[0]
    await admin.put("/_mock/credits", json={"api_key": "bench-price-probe", "credits": 1e6})
    probe = await admin.post(
        SUBMIT_PATH, content=VALID_BODY, headers=json_headers("bench-price-probe")
    )
    await admin.get("/v1/get_result", params={"id": probe.json()["id"]})
    left = (await admin.get("/v1/credits", headers={"x-key": "bench-price-probe"})).json()
    price = 1e6 - float(left["credits"])
    await admin.put("/_mock/credits", json={"api_key": key, "credits": price * CREDIT_RACE_IMAGES})
    answers = await asyncio.gather(
        *(
            pair[index % 2].post(SUBMIT_PATH, content=VALID_BODY, headers=json_headers(key))
            for index in range(CREDIT_RACE_SUBMITS)
        )
    )
    refused = collections.Counter(a.status_code for a in answers if a.status_code != 200)
    accepted = [a.json()["id"] for a in answers if a.status_code == 200]
    for task_id in accepted:  # settle them, so the balance is final
        await pair[1].get("/v1/get_result", params={"id": task_id})
    balance = (await admin.get("/v1/credits", headers={"x-key": key})).json()["credits"]
    result.credit_race_accepted = len(accepted)
    result.credit_race_refused = dict(refused)
    result.credit_race_final_balance = float(balance)


async def webhooks(pair: list[httpx.AsyncClient], result: LoadTest) -> None:
    received: collections.Counter[str] = collections.Counter()
    all_in = asyncio.Event()

    async def receive(request: HttpRequest) -> Response:
        payload = json.loads(await request.body())
        received[payload.get("task_id") or payload.get("id")] += 1
        if len(received) >= WEBHOOK_TASKS:
            all_in.set()
        return Response(status_code=200)

    port = servers.free_port()
    config = uvicorn.Config(
        Starlette(routes=[Route("/hook", receive, methods=["POST"])]),
        host=servers.HOST, port=port, log_level="warning", lifespan="off",
    )  # fmt: skip
    receiver = uvicorn.Server(config)
    serving = asyncio.create_task(receiver.serve())
    while not receiver.started:
        await asyncio.sleep(0.01)
    body = json.loads(VALID_BODY) | {"webhook_url": f"http://{servers.HOST}:{port}/hook"}
    submitted = await asyncio.gather(
        *(
            pair[index % 2].post(SUBMIT_PATH, json=body, headers={"x-key": KEY})
            for index in range(WEBHOOK_TASKS)
        )
    )
    ids = {answer.json()["id"] for answer in submitted if answer.status_code == 200}
    with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
        await asyncio.wait_for(all_in.wait(), WEBHOOK_WAIT_SECONDS)
    # Every delivery settled in the store's record: nothing more is on its way.
    deliveries = (await pair[0].get("/_mock/webhooks")).json()
    settled = sum(1 for d in deliveries if d["delivered"] or d["skipped"])
    receiver.should_exit = True
    await serving
    result.webhooks_received = sum(received[task_id] for task_id in ids)
    result.webhook_duplicates = sum(count - 1 for count in received.values() if count > 1)
    result.webhook_missing = len(ids - set(received))
    result.webhooks_unsettled = len(ids) - settled


async def load_test(urls: list[str], submits: int, redis_url: str) -> LoadTest:
    result = LoadTest()
    limits = httpx.Limits(max_connections=LOAD_CONCURRENCY)
    timeout = httpx.Timeout(30.0)
    async with contextlib.AsyncExitStack() as stack:
        pair = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout)
            )
            for url in urls
        ]
        memory_before = redis_counters(redis_url).memory_bytes
        started = time.monotonic()
        gate = asyncio.Semaphore(LOAD_CONCURRENCY)
        await asyncio.wait_for(
            asyncio.gather(
                *(
                    submit_and_poll_elsewhere(pair[i % 2], pair[(i + 1) % 2], gate, result)
                    for i in range(submits)
                )
            ),
            LOAD_TIMEOUT_SECONDS,
        )
        result.seconds = time.monotonic() - started
        result.redis_bytes_per_task = (
            redis_counters(redis_url).memory_bytes - memory_before
        ) / submits
        await credit_race(pair, result)
        await webhooks(pair, result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per throughput row")
    parser.add_argument("--submits", type=int, default=10_000, help="in the load test")
    args = parser.parse_args()

    generator = Generator(ensure_wrk(print), servers.pinning()[1], threads=2)
    print(f"load generator: {generator.name}; {CONNECTIONS} connections; {args.seconds:g} s a row")
    with redis_server() as redis_url:
        figures = throughput(generator, redis_url, args.seconds)
        trips = round_trips(redis_url)
    with redis_server() as redis_url:
        flags = ("--store", redis_url, "--generation-seconds", "0", *UNLIMITED)
        with contextlib.ExitStack() as stack:
            pair = [
                stack.enter_context(servers.running(f"mock {n}", servers.mock_argv(*flags),
                                                    probe="/", pin=[]))
                for n in (1, 2)
            ]  # fmt: skip
            outcome = asyncio.run(
                load_test([server.url for server in pair], args.submits, redis_url)
            )
    print(
        json.dumps(
            {
                "throughput": [describe(f) for f in figures],
                "redis_round_trips": trips,
                "load": dataclasses.asdict(outcome),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
