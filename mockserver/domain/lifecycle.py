"""How a task moves from Pending to its final status: pure functions of time or polls.

Observed on the real API (flux-dev): ``progress`` is null while the task is queued,
rises in tenths 0.1 .. 1.0 (values repeat when polled often), turns null again while the
result is finished off (the last Pending poll of the Dec 2025 capture), and is null on
the final status. A task picked up at once shows 0.1 on its first poll.
"""

from __future__ import annotations

import dataclasses
import math

from mockserver.settings import Timing

PROGRESS_STEPS = 10
"""Progress is reported in tenths."""
PHASES = PROGRESS_STEPS + 2
"""By time: a queued phase, one phase per tenth, and a finishing phase."""


@dataclasses.dataclass(frozen=True, slots=True)
class Progression:
    timing: Timing
    generation_seconds: float
    polls_until_ready: int


@dataclasses.dataclass(frozen=True, slots=True)
class Stage:
    """Where a task is: still working (with progress), or finished."""

    finished: bool
    progress: float | None = None
    finished_at: float | None = None
    started_at: float | None = None


def stage_at(progression: Progression, *, created_at: float, now: float, polls: int) -> Stage:
    """The stage of a task created at ``created_at``, seen at ``now`` on poll number ``polls``."""
    if progression.timing is Timing.POLLS:
        return _by_polls(progression.polls_until_ready, created_at=created_at, now=now, polls=polls)
    return _by_time(progression.generation_seconds, created_at=created_at, now=now)


def _by_time(duration: float, *, created_at: float, now: float) -> Stage:
    phase_length = duration / PHASES
    elapsed = now - created_at
    if duration <= 0 or elapsed >= duration:
        return Stage(
            finished=True, finished_at=created_at + duration, started_at=created_at + phase_length
        )
    phase = math.floor(elapsed / phase_length)
    working = 0 < phase <= PROGRESS_STEPS
    return Stage(finished=False, progress=_tenths(phase / PROGRESS_STEPS) if working else None)


def _by_polls(pending_polls: int, *, created_at: float, now: float, polls: int) -> Stage:
    """The first poll is queued; with 3 or more Pending polls, the last one is finishing."""
    if polls > pending_polls:
        return Stage(finished=True, finished_at=now, started_at=created_at)
    working = pending_polls - 2 if pending_polls >= 3 else pending_polls - 1
    step = polls - 1
    if step < 1 or step > working:
        return Stage(finished=False)
    return Stage(finished=False, progress=_tenths(step / working))


def _tenths(fraction: float) -> float:
    return min(1.0, max(0.1, round(fraction * PROGRESS_STEPS) / PROGRESS_STEPS))
