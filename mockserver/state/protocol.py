"""The narrow, async protocol every store keeps: what must agree across processes.

A store keeps records and counts; it decides nothing about tasks. Each method is one
atomic step, so a second backend (Redis) serves several processes with no lost update:
a submit is admitted under the key's limits and credits in one step, a finished task
is charged exactly once, a webhook is leased to one process at a time. What a task is
and when it ends is worked out above the store, once, by ``state.tasks``.
"""

from __future__ import annotations

from typing import Protocol

from mockserver.errors import MockServerError
from mockserver.state.records import (
    Admission,
    Call,
    Delivery,
    Refusal,
    Standing,
    TaskRecord,
    TaskState,
)


class StoreUnavailable(MockServerError):
    """The shared store does not answer; the request is answered 503 (Retry-After)."""


class Store(Protocol):
    async def open(self) -> None:
        """Connect, and check the store answers (``StoreUnavailable`` naming it if not)."""

    async def close(self) -> None: ...

    async def reset(self) -> None:
        """Forget every task, balance, journal entry, delivery, counter and the scenario."""

    # -- shared values ------------------------------------------------------------------

    async def secret(self, name: str, proposed: bytes) -> bytes:
        """The value of a shared secret: ``proposed`` by the first process to ask."""

    async def next_number(self) -> int:
        """The next number of a sequence no two submits anywhere share (1, 2, ...)."""

    async def scenario(self) -> str:
        """The server-wide directives (empty: none)."""

    async def set_scenario(self, directives: str) -> None:
        """Apply server-wide directives, and restart the server-wide fault counters."""

    async def take_fault(self, scope: str, target: str, times: int) -> bool:
        """Count one use of a fault limited to ``times`` uses in ``scope``: still allowed."""

    # -- tasks --------------------------------------------------------------------------

    async def admit(self, admission: Admission, now: float) -> Refusal | None:
        """Create the task if the key's limits and credits allow it, all in one step.

        First accounts for the key's tasks due by ``now``; then refuses with 429 when the
        key has ``max_active`` unfinished tasks (or ``endpoint_limit`` of this endpoint),
        or 402 when its balance less what its unfinished tasks will cost cannot cover the
        new task's charge; else keeps the record, reserves its charge and queues its
        webhook. None when admitted.
        """

    async def poll(self, task_id: str) -> tuple[TaskRecord, TaskState] | None:
        """The task, with this poll counted (unless the task injects poll faults)."""

    async def count_poll(self, task_id: str) -> TaskState | None:
        """Count a poll of a task that injects poll faults, once none applied."""

    async def task(self, task_id: str) -> tuple[TaskRecord, TaskState] | None:
        """The task, without counting a poll."""

    async def task_by_blob(self, blob: str) -> tuple[TaskRecord, TaskState] | None: ...

    async def tasks(self, limit: int) -> list[tuple[TaskRecord, TaskState]]:
        """The newest tasks, oldest first."""

    async def settle(self, record: TaskRecord, at: float) -> TaskState | None:
        """Account for a finished task once: charge it, release its slot and reservation.

        Returns its state as settled (by this call or an earlier one); None if unknown.
        """

    # -- credits --------------------------------------------------------------------------

    async def standing(self, api_key: str | None, endpoint: str, now: float) -> Standing: ...

    async def balance(self, api_key: str, now: float) -> float:
        """The key's balance (the starting credits until anything changed it)."""

    async def set_balance(self, api_key: str, credits: float, now: float) -> None: ...

    async def balances(self) -> dict[str, float]:
        """Every key's balance that differs from the starting credits."""

    # -- journal ------------------------------------------------------------------------

    async def record_call(self, call: Call) -> None:
        """Append to the journal (capped: the oldest entries go first)."""

    async def calls(self) -> list[Call]:
        """The journal, oldest first."""

    # -- webhook deliveries -------------------------------------------------------------

    async def claim_deliveries(
        self, now: float, lease: float, limit: int
    ) -> list[tuple[Delivery, TaskRecord | None]]:
        """Up to ``limit`` deliveries due by ``now``, leased to this process.

        Until ``now + lease``; then another process may take them over.
        """

    async def update_delivery(self, delivery: Delivery, due: float | None) -> None:
        """Keep a delivery's progress; ``due`` schedules its next attempt (None: done)."""

    async def deliveries(self) -> list[Delivery]: ...
