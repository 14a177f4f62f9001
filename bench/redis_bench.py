"""A ``redis-server`` on loopback for the benchmarks, and what it counts of its own work.

The server is the tests' ``RedisServer`` (a temporary folder, a free port, stopped by its
pid); its counters come from one ``INFO everything`` (read events, commands, memory).
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import redis

sys.path.append(str(Path(__file__).resolve().parent.parent / "tests"))
from redis_server import RedisServer


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    with RedisServer() as r:
        yield r.url


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


READING_COST = RedisCounters(round_trips=1, commands=1, memory_bytes=0)
"""What a reading after the first adds on the meter's connection: the read of its own INFO
request (counted before INFO answers) and the first reading's INFO command (counted once run).
The connection's own start (HELLO, CLIENT SETINFO) falls before the first reading."""
COMMAND_STATS = "cmdstat_"
"""The prefix of INFO's per-command entries, each a dict with ``calls``."""


class RedisMeter:
    """What Redis does from the meter's start to ``used()``, read over one connection."""

    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(url)
        self._start = self._reading()

    def __enter__(self) -> RedisMeter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._client.close()

    def used(self) -> RedisCounters:
        """Redis's work since the start, this meter's own requests taken off."""
        return self._reading() - self._start - READING_COST

    def _reading(self) -> RedisCounters:
        info = self._client.info("everything")
        commands = sum(
            int(entry["calls"]) for name, entry in info.items() if name.startswith(COMMAND_STATS)
        )
        return RedisCounters(int(info["total_reads_processed"]), commands, int(info["used_memory"]))
