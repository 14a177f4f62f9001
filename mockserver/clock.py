"""Time, injected: the system clock for serving, a hand-moved clock for tests."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Hold a reply back ``seconds`` (injected latency), without blocking the loop."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class ManualClock:
    """A clock that moves only when told to.

    A reply's latency still passes in real time: moving the clock is how a test moves
    tasks along, and a reply held until the test moves it would wait on the test.
    """

    def __init__(self, start: float = 1_766_072_345.188173) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock cannot go back")
        self._now += seconds

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
