"""How a task moves through its working statuses to its final one: pure functions.

Each endpoint family works through its own statuses (endpoint table): FLUX.1 and FLUX.2
stay ``Pending``; FLUX 3 goes ``Pending`` -> ``Reasoning`` -> ``Generating``. The time (or
the polls) until the final status is split evenly between them.

``progress`` (FLUX.1, live capture of flux-dev): null while queued, tenths 0.1 .. 1.0
(values repeat when polled often), null again while the result is finished off, and
null on the final status. Other families report null throughout.
"""

from __future__ import annotations

import dataclasses
import math

from mockserver.settings import Timing
from mockserver.spec.openapi import TaskStatus

PROGRESS_STEPS = 10
"""Progress is reported in tenths."""
PHASES = PROGRESS_STEPS + 2
"""By time: a queued phase, one phase per tenth, and a finishing phase."""
ONLY_PENDING = (TaskStatus.PENDING,)


@dataclasses.dataclass(frozen=True, slots=True)
class Progression:
    timing: Timing
    generation_seconds: float
    polls_until_ready: int


@dataclasses.dataclass(frozen=True, slots=True)
class Stage:
    """Where a task is: still working (in which status, with what progress), or finished."""

    finished: bool
    status: TaskStatus = TaskStatus.PENDING
    progress: float | None = None
    finished_at: float | None = None
    started_at: float | None = None


def stage_at(
    progression: Progression,
    *,
    created_at: float,
    now: float,
    polls: int,
    working: tuple[TaskStatus, ...] = ONLY_PENDING,
    tenths: bool = True,
) -> Stage:
    """The stage of a task created at ``created_at``, seen at ``now`` on poll ``polls``.

    ``working`` lists its working statuses in order; ``tenths`` says whether it reports
    progress in tenths (else null).
    """
    if progression.timing is Timing.POLLS:
        stage = _by_polls(
            progression.polls_until_ready, created_at=created_at, now=now, polls=polls
        )
        share = (polls - 1) / max(1, progression.polls_until_ready)
    else:
        duration = progression.generation_seconds
        stage = _by_time(duration, created_at=created_at, now=now)
        share = (now - created_at) / duration if duration > 0 else 1.0
    if stage.finished:
        return stage
    index = min(len(working) - 1, max(0, math.floor(share * len(working))))
    return dataclasses.replace(
        stage, status=working[index], progress=stage.progress if tenths else None
    )


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
    """The first poll is queued; with 3 or more working polls, the last one is finishing."""
    if polls > pending_polls:
        return Stage(finished=True, finished_at=now, started_at=created_at)
    working = pending_polls - 2 if pending_polls >= 3 else pending_polls - 1
    step = polls - 1
    if step < 1 or step > working:
        return Stage(finished=False)
    return Stage(finished=False, progress=_tenths(step / working))


def _tenths(fraction: float) -> float:
    return min(1.0, max(0.1, round(fraction * PROGRESS_STEPS) / PROGRESS_STEPS))
