"""Shared state under load: the mock on Redis, with one process and two, measured in one run.

    python bench/shared_load.py [--seconds 5] [--submits 10000]      (tox -e bench-shared)

Part 1, throughput, with wrk as ``bench/run.py`` drives it: submits and polls per second, p99,
the servers' CPU per request and Redis round trips per request (Redis's own command count,
``INFO commandstats``), for the bare Starlette ceiling, the mock on its in-memory store, and
the mock on Redis with one worker and with two (``--workers 2``, one port).

Part 2, the load test of ``two_process_load.py`` on two mock processes sharing one Redis.

Everything is on loopback: a ``redis-server`` in a temporary folder, the servers and the
receiver on free ports; each part is bounded in count and time and everything started here
is stopped by its pid.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
from pathlib import Path

import httpx
import servers
from loadgen import Generator, Load, Request, ensure_wrk
from preparation import KEY, NEVER_READY, READY_NOW, SUBMIT_PATH, VALID_BODY
from redis_bench import RedisCounters, RedisMeter, redis_server
from two_process_load import json_headers, load_test

CONNECTIONS = 50


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and its descendants (``--workers`` runs one child per worker)."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            total += servers.process_cpu_seconds(current)
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
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
    with contextlib.ExitStack() as stack:
        meter = stack.enter_context(RedisMeter(redis_url)) if redis_url else None
        cpu_before = tree_cpu_seconds(server.pid)
        load = generator.run(server.url, request, seconds=seconds, connections=CONNECTIONS)
        cpu = tree_cpu_seconds(server.pid) - cpu_before
        used = meter.used() if meter else None
    return Figure(server.name, kind, load, 1000 * cpu / max(load.requests, 1), used)


def ready_task(url: str) -> str:
    with httpx.Client(base_url=url) as client:
        submitted = client.post(SUBMIT_PATH, content=VALID_BODY, headers=json_headers(KEY))
        submitted.raise_for_status()
        task_id: str = submitted.json()["id"]
        client.get("/v1/get_result", params={"id": task_id}).raise_for_status()
        return task_id


def throughput(generator: Generator, redis_url: str, seconds: float) -> list[Figure]:
    server_pin, _load_pin = servers.pinning()
    setups: list[tuple[str, list[str], str | None]] = [
        ("ceiling", servers.ceiling_argv(), None),
        ("memory, 1 worker", servers.mock_argv(), None),
        ("redis, 1 worker", servers.mock_argv("--store", redis_url), redis_url),
        ("redis, 2 workers", servers.mock_argv("--store", redis_url, "--workers", "2"), redis_url),
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
        argv = servers.mock_argv(*flags, "--store", redis_url)
        with (
            servers.running("redis, 1 worker", argv, probe="/", pin=[]) as server,
            httpx.Client(base_url=server.url) as client,
        ):
            task = ready_task(server.url)
            with RedisMeter(redis_url) as meter:
                for _ in range(ROUND_TRIP_REQUESTS):
                    if kind == "submit":
                        client.post(SUBMIT_PATH, content=VALID_BODY, headers=json_headers(KEY))
                    else:
                        client.get("/v1/get_result", params={"id": task})
                found[kind] = meter.used().round_trips / ROUND_TRIP_REQUESTS
            print(f"Redis round trips per {kind}: {found[kind]:.2f}", flush=True)
    return found


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
        flags = (*READY_NOW, "--store", redis_url)
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
