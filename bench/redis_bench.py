"""A ``redis-server`` on loopback for the benchmarks, and what it counts of its own work.

Started in a temporary folder on a free port, ready when it answers a PING, stopped by its
pid; its counters come from ``INFO`` (read events, commands, memory).
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import servers


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
