"""How a task moves from Pending to its final status: pure functions of time or polls.

Observed on the real API (flux-dev, 2025): the first poll has ``progress`` null, then
progress rises 0.1, 0.2 .. 1.0, then the final status arrives with ``progress`` null.
"""

from __future__ import annotations

import dataclasses
import math

from mockserver.settings import Timing

PROGRESS_STEPS = 10
"""Progress is reported in tenths."""


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
    # One queueing phase (progress null), then one phase per progress step.
    phase_length = duration / (PROGRESS_STEPS + 1)
    started_at = created_at + phase_length
    elapsed = now - created_at
    if duration <= 0 or elapsed >= duration:
        return Stage(finished=True, finished_at=created_at + duration, started_at=started_at)
    phase = math.floor(elapsed / phase_length)
    return Stage(finished=False, progress=_tenths(phase / PROGRESS_STEPS) if phase else None)


def _by_polls(pending_polls: int, *, created_at: float, now: float, polls: int) -> Stage:
    if polls > pending_polls:
        return Stage(finished=True, finished_at=now, started_at=created_at)
    if polls <= 1:
        return Stage(finished=False)
    return Stage(finished=False, progress=_tenths((polls - 1) / (pending_polls - 1)))


def _tenths(fraction: float) -> float:
    return min(1.0, max(0.1, round(fraction * PROGRESS_STEPS) / PROGRESS_STEPS))
