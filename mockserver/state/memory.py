"""The embedded store: this process's memory, bounded, for one process (the default).

Every method runs on the server's event loop and never awaits half-way, so each is one
atomic step, as the protocol asks, without a lock.
"""

from __future__ import annotations

import collections
import dataclasses
import heapq
import math

from mockserver.state.records import (
    SERVER_SCOPE,
    Admission,
    Call,
    Delivery,
    Refusal,
    Standing,
    TaskRecord,
    TaskState,
)


@dataclasses.dataclass(slots=True)
class _Unfinished:
    """A task counted against its key until it is settled."""

    endpoint: str
    charge: float
    due: float


class MemoryStore:
    def __init__(
        self,
        *,
        starting_credits: float,
        journal_limit: int,
        task_limit: int,
        retention: float,
        journal_bytes: int | None = None,
    ) -> None:
        self._starting = starting_credits
        self._journal_limit = journal_limit
        self._journal_bytes_limit = journal_bytes
        self._task_limit = task_limit
        self._retention = retention
        self._reset()

    def _reset(self) -> None:
        self._secrets: dict[str, bytes] = {}
        self._number = 0
        self._scenario = ""
        self._fault_hits: collections.Counter[tuple[str, str]] = collections.Counter()
        self._records: collections.OrderedDict[str, TaskRecord] = collections.OrderedDict()
        self._states: dict[str, TaskState] = {}
        self._blobs: dict[str, str] = {}
        self._unfinished: dict[str | None, dict[str, _Unfinished]] = collections.defaultdict(dict)
        self._due: dict[str | None, list[tuple[float, str]]] = collections.defaultdict(list)
        self._balances: dict[str, float] = {}
        self._journal: collections.deque[tuple[Call, int]] = collections.deque()
        """Each call with its weight, worked out once."""
        self._journal_bytes = 0
        self._deliveries: dict[str, Delivery] = {}
        self._queue: list[tuple[float, str]] = []
        """Deliveries by when they are next due (a heap; stale entries are skipped)."""
        self._next_due: dict[str, float] = {}

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def reset(self) -> None:
        secrets = self._secrets
        self._reset()
        self._secrets = secrets  # signed URLs handed out before a reset stay valid

    async def secret(self, name: str, proposed: bytes) -> bytes:
        return self._secrets.setdefault(name, proposed)

    async def next_number(self) -> int:
        self._number += 1
        return self._number

    async def scenario(self) -> str:
        return self._scenario

    async def set_scenario(self, directives: str) -> None:
        self._scenario = directives
        for key in [key for key in self._fault_hits if key[0] == SERVER_SCOPE]:
            del self._fault_hits[key]

    async def take_fault(self, scope: str, target: str, times: int) -> bool:
        self._fault_hits[scope, target] += 1
        return self._fault_hits[scope, target] <= times

    # -- tasks ----------------------------------------------------------------------------

    async def admit(self, admission: Admission, now: float) -> Refusal | None:
        key, record = admission.api_key, admission.record
        self._settle_due(key, now)
        unfinished = self._unfinished[key]
        here = sum(1 for task in unfinished.values() if task.endpoint == admission.endpoint)
        if len(unfinished) >= admission.max_active or (
            admission.endpoint_limit is not None and here >= admission.endpoint_limit
        ):
            return Refusal(429)
        if key is not None:
            if self._balance(key) - self._reserved(key) < record.charge:
                return Refusal(402)
        self._records[record.id] = record
        self._states[record.id] = TaskState()
        self._blobs[record.blob] = record.id
        due = math.inf if record.due is None else record.due
        unfinished[record.id] = _Unfinished(admission.endpoint, record.charge, due)
        if record.due is not None:
            heapq.heappush(self._due[key], (record.due, record.id))
        if admission.delivery is not None:
            if len(self._next_due) >= admission.delivery_limit:
                self._deliveries[record.id] = admission.unqueued or admission.delivery
            else:
                self._schedule(admission.delivery, record.due if record.due is not None else now)
        self._forget_old(now)
        return None

    async def poll(self, task_id: str) -> tuple[TaskRecord, TaskState] | None:
        record = self._records.get(task_id)
        if record is None:
            return None
        if record.poll_faults:
            return record, self._states[task_id]
        return record, self._count(task_id)

    async def count_poll(self, task_id: str) -> TaskState | None:
        return self._count(task_id) if task_id in self._records else None

    def _count(self, task_id: str) -> TaskState:
        state = self._states[task_id]
        state = self._states[task_id] = dataclasses.replace(state, polls=state.polls + 1)
        return state

    async def task(self, task_id: str) -> tuple[TaskRecord, TaskState] | None:
        record = self._records.get(task_id)
        return None if record is None else (record, self._states[task_id])

    async def task_by_blob(self, blob: str) -> tuple[TaskRecord, TaskState] | None:
        task_id = self._blobs.get(blob)
        return None if task_id is None else await self.task(task_id)

    async def tasks(self, limit: int) -> list[tuple[TaskRecord, TaskState]]:
        newest = list(self._records.values())[-limit:] if limit else []
        return [(record, self._states[record.id]) for record in newest]

    async def settle(self, record: TaskRecord, at: float) -> TaskState | None:
        state = self._states.get(record.id)
        if state is None:
            return None
        if state.settled_at is None:
            self._account(record.generation.api_key, record.id)
            state = self._states[record.id] = dataclasses.replace(state, settled_at=at)
        return state

    def _account(self, api_key: str | None, task_id: str) -> None:
        """Stop counting a task against its key; charge what it costs."""
        task = self._unfinished[api_key].pop(task_id, None)
        if task is not None and api_key is not None and task.charge:
            self._balances[api_key] = self._balance(api_key) - task.charge

    def _settle_due(self, api_key: str | None, now: float) -> None:
        """Account for the key's tasks that finished by time (by polls, only polls do)."""
        due = self._due.get(api_key)
        while due and due[0][0] <= now:
            at, task_id = heapq.heappop(due)
            state = self._states.get(task_id)
            if state is not None and state.settled_at is None:
                self._account(api_key, task_id)
                self._states[task_id] = dataclasses.replace(state, settled_at=at)

    def _reserved(self, api_key: str) -> float:
        return sum(task.charge for task in self._unfinished[api_key].values())

    def _forget_old(self, now: float) -> None:
        """Drop tasks past their retention, and the oldest past the task limit."""
        while self._records:
            oldest = next(iter(self._records.values()))
            if len(self._records) <= self._task_limit and oldest.created_at > now - self._retention:
                break
            self._records.popitem(last=False)
            self._blobs.pop(oldest.blob, None)
            self._states.pop(oldest.id, None)
            self._unfinished[oldest.generation.api_key].pop(oldest.id, None)

    # -- credits --------------------------------------------------------------------------

    def _balance(self, api_key: str) -> float:
        return self._balances.get(api_key, self._starting)

    async def standing(self, api_key: str | None, endpoint: str, now: float) -> Standing:
        self._settle_due(api_key, now)
        unfinished = self._unfinished[api_key]
        here = sum(1 for task in unfinished.values() if task.endpoint == endpoint)
        if api_key is None:
            return Standing(len(unfinished), here, 0.0)
        return Standing(len(unfinished), here, self._balance(api_key) - self._reserved(api_key))

    async def balance(self, api_key: str, now: float) -> float:
        self._settle_due(api_key, now)
        return self._balance(api_key)

    async def set_balance(self, api_key: str, credits: float, now: float) -> None:
        self._settle_due(api_key, now)
        self._balances[api_key] = credits

    async def balances(self) -> dict[str, float]:
        return dict(self._balances)

    # -- journal --------------------------------------------------------------------------

    async def record_call(self, call: Call) -> None:
        journal = self._journal
        weight = call.weight
        journal.append((call, weight))
        self._journal_bytes += weight
        most = self._journal_bytes_limit
        while len(journal) > self._journal_limit or (
            most is not None and self._journal_bytes > most and journal
        ):
            self._journal_bytes -= journal.popleft()[1]

    async def calls(self) -> list[Call]:
        return [call for call, _ in self._journal]

    # -- webhook deliveries ---------------------------------------------------------------

    def _schedule(self, delivery: Delivery, due: float) -> None:
        self._deliveries[delivery.task_id] = delivery
        self._next_due[delivery.task_id] = due
        heapq.heappush(self._queue, (due, delivery.task_id))

    async def claim_deliveries(
        self, now: float, lease: float, limit: int
    ) -> list[tuple[Delivery, TaskRecord | None]]:
        claimed: list[tuple[Delivery, TaskRecord | None]] = []
        while self._queue and self._queue[0][0] <= now and len(claimed) < limit:
            due, task_id = heapq.heappop(self._queue)
            if self._next_due.get(task_id) != due:
                continue  # rescheduled since, or done
            self._schedule(self._deliveries[task_id], now + lease)
            claimed.append((self._deliveries[task_id], self._records.get(task_id)))
        return claimed

    async def update_delivery(self, delivery: Delivery, due: float | None) -> None:
        if due is None:
            self._deliveries[delivery.task_id] = delivery
            self._next_due.pop(delivery.task_id, None)
        else:
            self._schedule(delivery, due)

    async def deliveries(self) -> list[Delivery]:
        return list(self._deliveries.values())
