"""What a new task will end as, decided once at submit from its scenario and its generation.

The scenario's outcome directive wins; else an input the mock cannot use fails the task;
else the prompt's moderation decides; else the task ends Ready.
"""

from __future__ import annotations

import dataclasses

from mockserver.domain import moderation
from mockserver.domain.generation import Generation
from mockserver.domain.scenarios import Scenario
from mockserver.spec.openapi import TaskStatus

DEFAULT_ERROR = "Generation failed"
DEFAULT_MODERATION_REASON = "Safety Filter"
MODERATED = frozenset({TaskStatus.REQUEST_MODERATED, TaskStatus.CONTENT_MODERATED})


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """The final status a task will reach, why, and the HTTP status of a poll showing it."""

    status: TaskStatus = TaskStatus.READY
    error: str | None = None
    """The message of an ``Error`` task."""
    moderation_reasons: tuple[str, ...] = ()
    """Why a moderated task was refused."""
    status_code: int = 200
    """HTTP status of a poll answering the final status (422 for an input it cannot use)."""


READY = Outcome()


def decide(scenario: Scenario, generation: Generation) -> Outcome:
    """The outcome of ``generation`` submitted under ``scenario``."""
    status, reasons = scenario.outcome, scenario.detail
    if status is None and generation.failure is not None:
        return Outcome(
            TaskStatus.ERROR, error=generation.failure, status_code=generation.failure_status
        )
    if status is None:
        assessed = moderation.assess(generation.prompt, generation.safety_tolerance)
        status, reasons = assessed if assessed else (TaskStatus.READY, None)
    if status is TaskStatus.ERROR:
        return Outcome(status, error="; ".join(reasons or (DEFAULT_ERROR,)))
    if status in MODERATED:
        return Outcome(status, moderation_reasons=reasons or (DEFAULT_MODERATION_REASON,))
    return Outcome(status)
