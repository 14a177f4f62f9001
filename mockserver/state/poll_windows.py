"""The rate-limit headers BFL's get_result sends: a per-client window of polls.

Observed on the real API (maruel/genai flux-dev cassette, 2025-12-18, polls about 115 ms
apart without a key): every poll answer, Pending or Ready, carries

- ``X-Ratelimit-Limit: 1200``;
- ``X-Ratelimit-Remaining``: 1199 on the first poll, one less on each poll after it,
  back to 1199 on the first poll a second after the window opened;
- ``Retry-After``: ``"1"`` in the first half of that second, ``"0"`` in the second half;
- ``X-Ratelimit-Reset``: a float epoch that moves with the clock and is about
  ``now + Retry-After`` (so about now + 1 s early in a window, about now late in it).

So: a fixed window of one second per client, opened by its first poll. The limit is
reported, not enforced: no capture or document shows a poll refused by it.
"""

from __future__ import annotations

import dataclasses
import math
import threading

POLL_LIMIT = 1200
"""``X-Ratelimit-Limit`` on every poll (live capture)."""
WINDOW_SECONDS = 1.0
"""How long one window of polls lasts (live capture: the count restarts after about 1 s)."""
KEPT_WINDOWS = 4096
"""Past this many clients, windows that have closed are forgotten."""

LIMIT_HEADER = "X-Ratelimit-Limit"
REMAINING_HEADER = "X-Ratelimit-Remaining"
RESET_HEADER = "X-Ratelimit-Reset"
RETRY_AFTER_HEADER = "Retry-After"


@dataclasses.dataclass(frozen=True, slots=True)
class PollAllowance:
    """Where one client stands in its window, as the headers of one poll report it."""

    limit: int
    remaining: int
    retry_after: int
    reset: float

    def headers(self) -> dict[str, str]:
        return {
            RETRY_AFTER_HEADER: str(self.retry_after),
            LIMIT_HEADER: str(self.limit),
            REMAINING_HEADER: str(self.remaining),
            RESET_HEADER: repr(self.reset),
        }


class PollWindows:
    """Counts each client's polls in fixed windows; safe to use from several threads."""

    def __init__(self, limit: int = POLL_LIMIT, window_seconds: float = WINDOW_SECONDS) -> None:
        self._limit = limit
        self._window = window_seconds
        self._lock = threading.Lock()
        self._opened: dict[str, tuple[float, int]] = {}
        """Per client: when its current window opened, and how many polls it has seen."""

    def reset(self) -> None:
        with self._lock:
            self._opened.clear()

    def __len__(self) -> int:
        """How many clients have a window (closed ones are kept until there are many)."""
        return len(self._opened)

    def poll(self, client: str, now: float) -> PollAllowance:
        """Count one poll by ``client`` at ``now`` and say what its headers report."""
        with self._lock:
            opened_at, polls = self._opened.get(client, (now, 0))
            if now >= opened_at + self._window or now < opened_at:
                opened_at, polls = now, 0
            polls += 1
            if client not in self._opened and len(self._opened) >= KEPT_WINDOWS:
                self._forget_closed(now)
            self._opened[client] = (opened_at, polls)
        # Seconds left in the window, rounded half up: "1" then "0" for a 1 s window.
        retry_after = math.floor(opened_at + self._window - now + 0.5)
        return PollAllowance(
            limit=self._limit,
            remaining=max(0, self._limit - polls),
            retry_after=retry_after,
            reset=now + retry_after,
        )

    def _forget_closed(self, now: float) -> None:
        closed = [key for key, (at, _) in self._opened.items() if now >= at + self._window]
        for key in closed:
            del self._opened[key]
