"""The task rules, once, over any store: identities, admission, progression, settling.

A store keeps records and counts atomically (``state.protocol``); everything about what
a task is and does is decided here, the same way for the embedded store and for Redis:

- identities: the n-th task the store admits gets its id, blob name and seed from a
  keyed hash of n, so ids never repeat across processes, and with ``seed`` set the
  same n gives the same task on every run (README: "Several workers");
- admission: what a task costs when it ends and when it is due, checked by the store
  against the key's limits and credits in one step;
- progression: the stage of a task is a pure function of its record, its poll count
  and the clock; a task seen finished is settled (charged once) there and then.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os

from mockserver.clock import Clock
from mockserver.domain.generation import Generation
from mockserver.domain.lifecycle import PHASES, Progression, stage_at
from mockserver.domain.outcomes import Outcome
from mockserver.settings import Timing
from mockserver.spec.openapi import TaskStatus
from mockserver.state.protocol import Store
from mockserver.state.records import (
    Admission,
    Delivery,
    Refusal,
    Task,
    TaskRecord,
    TaskState,
)

RANDOM_SEED_LIMIT = 2**32
"""Seeds the real API picks when none is sent were all below 2**32."""
IDENTITY_SECRET = "identities"
SECRET_BYTES = 32


@dataclasses.dataclass(frozen=True, slots=True)
class Identity:
    id: str
    blob: str
    seed: int


def identity(secret: bytes, number: int) -> Identity:
    """The id, blob name and random seed of the ``number``-th task, under ``secret``."""
    digest = hashlib.sha512(secret + number.to_bytes(8, "big")).digest()
    return Identity(
        id=_uuid4(int.from_bytes(digest[:16], "big")),
        blob=digest[16:32].hex(),
        seed=int.from_bytes(digest[32:40], "big") % RANDOM_SEED_LIMIT,
    )


def seeded_secret(seed: int | None, name: str) -> bytes:
    """A secret derived from ``seed`` (reproducible runs), else a fresh random one."""
    if seed is None:
        return os.urandom(SECRET_BYTES)
    return hashlib.sha256(f"bfl-mock {name} {seed}".encode()).digest()


@dataclasses.dataclass(frozen=True, slots=True)
class Submission:
    """A planned generation and what the scenario decided for it."""

    generation: Generation
    outcome: Outcome
    directives: str
    poll_faults: bool
    origin: str
    """Where the client reached the mock: the origin of the sample URL a webhook sends."""


class Tasks:
    """The task rules over one store and one clock."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        progression: Progression,
        *,
        max_active: int,
        delivery_limit: int,
        seed: int | None,
    ) -> None:
        self.store = store
        self.clock = clock
        self._progression = progression
        self._max_active = max_active
        self._delivery_limit = delivery_limit
        self._proposed_secret = seeded_secret(seed, IDENTITY_SECRET)
        self._secret: bytes | None = None

    async def start(self) -> None:
        """Agree on the identity secret with the other processes sharing the store."""
        self._secret = await self.store.secret(IDENTITY_SECRET, self._proposed_secret)

    async def submit(self, submission: Submission) -> Task | Refusal:
        """Admit a new task under its key's limits and credits, or say why not."""
        assert self._secret is not None, "Tasks.start() first"
        generation = submission.generation
        now = self.clock.now()
        who = identity(self._secret, await self.store.next_number())
        final_at_once = submission.outcome.status is TaskStatus.REQUEST_MODERATED
        record = TaskRecord(
            id=who.id,
            generation=generation,
            seed=generation.seed if generation.seed is not None else who.seed,
            created_at=now,
            blob=who.blob,
            outcome=submission.outcome,
            directives=submission.directives,
            poll_faults=submission.poll_faults,
            due=now if final_at_once else self._due(now),
            charge=generation.price if submission.outcome.status is TaskStatus.READY else 0.0,
        )
        delivery = (
            None
            if generation.webhook_url is None
            else Delivery(task_id=record.id, url=generation.webhook_url, origin=submission.origin)
        )
        refusal = await self.store.admit(
            Admission(
                record=record,
                api_key=generation.api_key,
                endpoint=generation.endpoint,
                max_active=self._max_active,
                endpoint_limit=generation.active_limit,
                delivery=delivery,
                delivery_limit=self._delivery_limit,
            ),
            now,
        )
        return refusal if refusal is not None else await self.current(record, TaskState())

    def _due(self, now: float) -> float | None:
        if self._progression.timing is Timing.TIME:
            return now + self._progression.generation_seconds
        return None

    async def poll(self, task_id: str) -> Task | None:
        """The task as of now, this poll counted (unless it injects poll faults)."""
        found = await self.store.poll(task_id)
        return None if found is None else await self.current(*found)

    async def count_poll(self, task: Task) -> Task:
        """Count the poll of a task that injects poll faults, once none applied."""
        state = await self.store.count_poll(task.id)
        return task if state is None else await self.current(task.record, state)

    async def look(self, task_id: str) -> Task | None:
        """The task as of now, without counting a poll."""
        found = await self.store.task(task_id)
        return None if found is None else await self.current(*found)

    async def by_blob(self, blob: str) -> Task | None:
        found = await self.store.task_by_blob(blob)
        return None if found is None else await self.current(*found)

    async def recent(self, limit: int) -> list[Task]:
        return [await self.current(*found) for found in await self.store.tasks(limit)]

    async def complete(self, record: TaskRecord) -> Task:
        """Finish the task now, whatever its progress (a webhook task is never polled)."""
        state = await self.store.settle(record, self.clock.now())
        return await self.current(record, state or TaskState())

    async def current(self, record: TaskRecord, state: TaskState) -> Task:
        """The task's stage now; settled (charged once) the moment it is seen finished."""
        if state.settled_at is None:
            stage = stage_at(
                self._progression,
                created_at=record.created_at,
                now=self.clock.now(),
                polls=state.polls,
                working=record.generation.working,
                tenths=record.generation.tenths,
            )
            finished = stage.finished or record.due is not None and self.clock.now() >= record.due
            if not finished:
                return Task(record, state.polls, stage.status, stage.progress)
            at = record.due if record.due is not None else self.clock.now()
            state = await self.store.settle(record, at) or dataclasses.replace(state, settled_at=at)
        assert state.settled_at is not None
        return Task(
            record,
            polls=state.polls,
            status=record.outcome.status,
            started_at=self._started_at(record),
            finished_at=state.settled_at,
        )

    def _started_at(self, record: TaskRecord) -> float:
        if record.due is None or record.outcome.status is TaskStatus.REQUEST_MODERATED:
            return record.created_at
        # By time: the task is picked up once its queued phase is over (lifecycle).
        return record.created_at + self._progression.generation_seconds / PHASES


_VERSION_MASK, _VERSION_4 = 0xF000 << 64, 4 << 76
_VARIANT_MASK, _VARIANT_RFC_4122 = 0xC000 << 48, 0x8000 << 48


def _uuid4(bits: int) -> str:
    """``str(uuid.UUID(int=bits, version=4))`` without the UUID object (twice as fast)."""
    bits = (bits & ~_VERSION_MASK | _VERSION_4) & ~_VARIANT_MASK | _VARIANT_RFC_4122
    digits = f"{bits:032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
