"""What the mock keeps: typed records of tasks, requests and webhook deliveries.

A task is kept as its ``TaskRecord`` (what was asked and decided at submit, never
changed) and its ``TaskState`` (the few values that change: polls counted, when it was
settled). ``Task`` is the two seen together at one moment, with its stage worked out by
``state.tasks`` from the record, the state and the clock.
"""

from __future__ import annotations

import dataclasses

from mockserver.domain.generation import Generation
from mockserver.domain.outcomes import READY, Outcome
from mockserver.spec.openapi import TaskStatus

ACCEPTED, REJECTED = "accepted", "rejected"
CALL_OVERHEAD = 512
"""Bytes a journal entry costs beyond its bodies and headers (objects, path, problems)."""
SERVER_SCOPE = ""
"""Fault counters of the server-wide scenario (task scopes use the task id)."""


@dataclasses.dataclass(frozen=True, slots=True)
class TaskRecord:
    """A task as submitted: everything decided then, kept unchanged."""

    id: str
    generation: Generation
    seed: int
    created_at: float
    blob: str
    """Name of the sample's blob: 32 hex digits, unrelated to the id (as on the real API)."""
    outcome: Outcome = READY
    """What this task will end as."""
    directives: str = ""
    """The directives the task was submitted with (header, then prompt), as text."""
    poll_faults: bool = False
    """Its directives inject poll faults: a poll is counted only once none applies."""
    due: float | None = None
    """When it finishes by time (None: by polls)."""
    charge: float = 0.0
    """What it costs when it ends: its price if it will be Ready, else nothing."""


@dataclasses.dataclass(frozen=True, slots=True)
class TaskState:
    """What changes about a task once it is submitted."""

    polls: int = 0
    settled_at: float | None = None
    """When it was accounted for as finished (charged if Ready); None while it works."""


@dataclasses.dataclass(frozen=True, slots=True)
class Task:
    """A task as it stands now: its record, and the stage worked out from its state."""

    record: TaskRecord
    polls: int = 0
    status: TaskStatus = TaskStatus.PENDING
    progress: float | None = None
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def generation(self) -> Generation:
        return self.record.generation

    @property
    def seed(self) -> int:
        return self.record.seed

    @property
    def blob(self) -> str:
        return self.record.blob

    @property
    def created_at(self) -> float:
        return self.record.created_at

    @property
    def outcome(self) -> Outcome:
        return self.record.outcome

    @property
    def shown_outcome(self) -> Outcome | None:
        """The outcome once the task shows it (its final status reached), else None."""
        return self.record.outcome if self.status is self.record.outcome.status else None


@dataclasses.dataclass(frozen=True, slots=True)
class Admission:
    """What a submit asks of the store, to be decided in one atomic step."""

    record: TaskRecord
    api_key: str | None
    endpoint: str
    max_active: int
    """Unfinished tasks the key may have, all endpoints together."""
    endpoint_limit: int | None
    """Unfinished tasks of this endpoint the key may have (None: no limit of its own)."""
    delivery: Delivery | None = None
    """The webhook to deliver when the task ends, queued with it."""
    delivery_limit: int = 0
    """Deliveries waiting at most; past it, this one is kept as not queued."""

    @property
    def unqueued(self) -> Delivery | None:
        """The delivery as kept when the queue is full."""
        if self.delivery is None:
            return None
        note = f"not sent: {self.delivery_limit} webhooks were waiting (webhook_queue_limit)"
        return dataclasses.replace(self.delivery, skipped=True, note=note)


@dataclasses.dataclass(frozen=True, slots=True)
class Refusal:
    """Why a submit was not admitted: 429 (a limit) or 402 (credits)."""

    status: int


@dataclasses.dataclass(frozen=True, slots=True)
class Standing:
    """A key's unfinished tasks (all, and of one endpoint) and the credits left to commit."""

    active: int
    active_here: int
    available: float


@dataclasses.dataclass(frozen=True, slots=True)
class Call:
    """One request the mock received, what it answered, and whether it kept the contract."""

    at: float
    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    status: int
    response_body: bytes
    operation_id: str | None = None
    problems: tuple[str, ...] = ()
    """Why the request broke the contract (empty when the mock accepted it)."""
    response_problems: tuple[str, ...] = ()
    """Where the mock's own answer broke the spec (strict mode)."""
    truncated: tuple[str, ...] = ()
    """Which of ``body`` and ``response_body`` were cut to ``journal_body_bytes`` (or, for
    a downloaded file, left out)."""

    @property
    def weight(self) -> int:
        """Roughly the bytes this entry holds, for the journal's byte limit."""
        headers = sum(len(name) + len(value) for name, value in self.headers)
        return CALL_OVERHEAD + len(self.body) + len(self.response_body) + headers

    @property
    def accepted(self) -> bool:
        return not self.problems

    @property
    def verdict(self) -> str:
        return ACCEPTED if self.accepted else REJECTED

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((value for key, value in self.headers if key.lower() == lowered), None)


@dataclasses.dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    at: float
    status: int | None
    """The receiver's HTTP status, or None when no answer came."""
    error: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook: where it goes, what was sent, and each attempt's result."""

    task_id: str
    url: str
    origin: str = ""
    """Where the submitting client reached the mock: the origin of the sample URL sent."""
    body: bytes = b""
    """Filled when the task ends (the outcome is only known then)."""
    headers: tuple[tuple[str, str], ...] = ()
    attempts: tuple[DeliveryAttempt, ...] = ()
    delivered: bool = False
    skipped: bool = False
    """Not sent at all: see ``note``."""
    failed: bool = False
    """Every attempt failed: given up."""
    note: str | None = None
    """Why it was not sent, or given up."""

    @property
    def done(self) -> bool:
        return self.delivered or self.skipped or self.failed


def filter_calls(
    calls: tuple[Call, ...],
    *,
    path: str | None = None,
    status: int | None = None,
    verdict: str | None = None,
) -> tuple[Call, ...]:
    """The calls matching every given criterion."""
    return tuple(
        call
        for call in calls
        if (path is None or call.path == path)
        and (status is None or call.status == status)
        and (verdict is None or call.verdict == verdict)
    )
