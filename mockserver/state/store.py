"""Tasks, credits and the request journal: the mock's state, behind one interface.

Time and randomness are injected (a ``Clock``, a seeded ``random.Random``), so a test
with a fixed seed and a manual clock sees the same ids, seeds and timings every run.
``MemoryStore`` is the default; a shared backend implements ``TaskStore`` as well.
The store knows no HTTP and no JSON.
"""

from __future__ import annotations

import collections
import dataclasses
import heapq
import random
import threading
from collections.abc import Mapping
from typing import Any, Protocol

from mockserver.clock import Clock
from mockserver.domain.generation import Generation
from mockserver.domain.lifecycle import Progression, stage_at
from mockserver.domain.scenarios import NO_SCENARIO, Scenario, Target
from mockserver.settings import Timing
from mockserver.spec.openapi import TaskStatus

RANDOM_SEED_LIMIT = 2**32
"""Seeds the real API picks when none is sent were all below 2**32."""
ACCEPTED, REJECTED = "accepted", "rejected"
SERVER_SCOPE = ""
"""Fault counters of the server-wide scenario (task scopes use the task id)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Task:
    id: str
    generation: Generation
    seed: int
    created_at: float
    blob: str
    """Name of the sample's blob: 32 hex digits, unrelated to the id (as on the real API)."""
    outcome: TaskStatus = TaskStatus.READY
    """The final status this task will reach."""
    outcome_details: Mapping[str, Any] | None = None
    outcome_status_code: int = 200
    """HTTP status of a poll answering the final status (422 for an input it cannot use)."""
    scenario: Scenario = NO_SCENARIO
    """Faults and other directives this task was submitted with."""
    polls: int = 0
    status: TaskStatus = TaskStatus.PENDING
    progress: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    charged: bool = False

    @property
    def details(self) -> Mapping[str, Any] | None:
        return self.outcome_details if self.status is self.outcome else None


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
    operation_id: str | None
    problems: tuple[str, ...] = ()
    """Why the request was off-contract (empty when it was accepted)."""
    response_problems: tuple[str, ...] = ()
    """Where the mock's own answer broke the spec (strict mode only)."""

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
    """One webhook: what the mock sent where, and each attempt's result."""

    task_id: str
    url: str
    body: bytes
    headers: tuple[tuple[str, str], ...]
    attempts: tuple[DeliveryAttempt, ...] = ()
    delivered: bool = False
    skipped: bool = False
    """Not sent at all: see ``note``."""
    note: str | None = None
    """Why it was not sent (the ``webhook-lost`` directive, or a host not allowed)."""


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


class TaskStore(Protocol):
    def now(self) -> float: ...
    def new_task(
        self,
        generation: Generation,
        *,
        outcome: TaskStatus = ...,
        outcome_details: Mapping[str, Any] | None = ...,
        outcome_status_code: int = ...,
        scenario: Scenario = ...,
    ) -> Task: ...
    def poll(self, task_id: str) -> Task | None: ...
    def task(self, task_id: str) -> Task | None: ...
    def scenario_of(self, task_id: str) -> Scenario | None: ...
    def complete(self, task_id: str) -> Task | None: ...
    def task_by_blob(self, blob: str) -> Task | None: ...
    def balance(self, api_key: str) -> float: ...
    def set_balance(self, api_key: str, credits: float) -> None: ...
    def available(self, api_key: str) -> float: ...
    def active_tasks(self, api_key: str | None) -> int: ...
    def standing(self, api_key: str | None, endpoint: str = ...) -> Standing: ...
    def scenario(self) -> Scenario: ...
    def set_scenario(self, scenario: Scenario) -> None: ...
    def take_fault(self, scope: str, target: Target, times: int | None) -> bool: ...
    def record(self, call: Call) -> None: ...
    def calls(self) -> tuple[Call, ...]: ...
    def tasks(self) -> tuple[Task, ...]: ...
    def record_delivery(self, delivery: Delivery) -> None: ...
    def deliveries(self) -> tuple[Delivery, ...]: ...
    def reset(self) -> None: ...


class MemoryStore:
    """Everything in this process's memory, safe to read from another thread."""

    def __init__(
        self,
        *,
        progression: Progression,
        starting_credits: float,
        clock: Clock,
        seed: int | None = None,
        journal_limit: int = 10_000,
        task_limit: int = 100_000,
        scenario: Scenario = NO_SCENARIO,
    ) -> None:
        self._progression = progression
        self._starting_credits = starting_credits
        self._clock = clock
        self._seed = seed
        self._journal_limit = journal_limit
        self._task_limit = task_limit
        self._default_scenario = scenario
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Forget every task, balance and journal entry; restart the random sequence."""
        with self._lock:
            self._random = random.Random(self._seed)
            self._tasks: collections.OrderedDict[str, Task] = collections.OrderedDict()
            self._blobs: dict[str, str] = {}
            # Per key: unfinished tasks, what they will cost when Ready, and (by time)
            # when each is due, so that submits never walk every task of the key.
            self._uncharged: dict[str | None, set[str]] = collections.defaultdict(set)
            self._reserved: dict[str | None, float] = collections.defaultdict(float)
            self._due: dict[str | None, list[tuple[float, str]]] = collections.defaultdict(list)
            self._settled: set[str] = set()
            """Tasks accounted for by ``_settle`` but not yet brought up to date."""
            self._balances: dict[str, float] = {}
            self._journal: collections.deque[Call] = collections.deque(maxlen=self._journal_limit)
            self._scenario = self._default_scenario
            self._fault_hits: collections.Counter[tuple[str, Target]] = collections.Counter()
            self._deliveries: dict[str, Delivery] = {}

    def now(self) -> float:
        return self._clock.now()

    def new_task(
        self,
        generation: Generation,
        *,
        outcome: TaskStatus = TaskStatus.READY,
        outcome_details: Mapping[str, Any] | None = None,
        outcome_status_code: int = 200,
        scenario: Scenario = NO_SCENARIO,
    ) -> Task:
        with self._lock:
            rng = self._random
            task = Task(
                id=_uuid4(rng.getrandbits(128)),
                generation=generation,
                seed=generation.seed
                if generation.seed is not None
                else rng.randrange(RANDOM_SEED_LIMIT),
                created_at=self._clock.now(),
                blob=f"{rng.getrandbits(128):032x}",
                outcome=outcome,
                outcome_details=outcome_details,
                outcome_status_code=outcome_status_code,
                scenario=scenario,
            )
            self._tasks[task.id] = task
            self._blobs[task.blob] = task.id
            key = generation.api_key
            self._uncharged[key].add(task.id)
            if outcome is TaskStatus.READY:
                self._reserved[key] += generation.price
            if self._progression.timing is Timing.TIME:
                due = task.created_at + self._progression.generation_seconds
                heapq.heappush(self._due[key], (due, task.id))
            while len(self._tasks) > self._task_limit:
                _, dropped = self._tasks.popitem(last=False)
                self._blobs.pop(dropped.blob, None)
                if dropped.id in self._settled:
                    self._settled.discard(dropped.id)
                elif not dropped.charged:
                    self._release(dropped)
            if outcome is TaskStatus.REQUEST_MODERATED:
                task = self._advance(task)  # refused at submission: final at once
            return task

    def poll(self, task_id: str) -> Task | None:
        """Count one poll of the task and move it along; None for an unknown id."""
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None:
                return None
            return self._advance(task, polls=task.polls + 1)

    def task(self, task_id: str) -> Task | None:
        """The task as time has left it, without counting a poll."""
        with self._lock:
            task = self._tasks.get(task_id)
            return None if task is None else self._advance(task)

    def task_by_blob(self, blob: str) -> Task | None:
        with self._lock:
            task_id = self._blobs.get(blob)
            return None if task_id is None else self.task(task_id)

    def balance(self, api_key: str) -> float:
        with self._lock:
            self._settle(api_key)
            return self._balances.get(api_key, self._starting_credits)

    def standing(self, api_key: str | None, endpoint: str = "") -> Standing:
        """Where a key stands before a submit to ``endpoint`` (one settling per submit)."""
        with self._lock:
            self._settle(api_key)
            unfinished = self._uncharged.get(api_key, ())
            here = sum(
                1
                for task_id in unfinished
                if (task := self._tasks.get(task_id)) and task.generation.endpoint == endpoint
            )
            if api_key is None:
                return Standing(len(unfinished), here, 0.0)
            balance = self._balances.get(api_key, self._starting_credits)
            return Standing(len(unfinished), here, balance - self._reserved[api_key])

    def active_tasks(self, api_key: str | None) -> int:
        """Tasks of this key still working."""
        return self.standing(api_key).active

    def scenario_of(self, task_id: str) -> Scenario | None:
        """The directives a task was submitted with (None for an unknown id), as is."""
        task = self._tasks.get(task_id)
        return None if task is None else task.scenario

    def complete(self, task_id: str) -> Task | None:
        """Finish the task now, whatever the timing (webhook tasks are never polled)."""
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None or task.status.is_final:
                return task
            now = self._clock.now()
            return self._advance(
                dataclasses.replace(
                    task,
                    status=task.outcome,
                    progress=None,
                    started_at=task.created_at,
                    finished_at=now,
                )
            )

    def set_balance(self, api_key: str, credits: float) -> None:
        with self._lock:
            self._settle(api_key)
            self._balances[api_key] = credits

    def available(self, api_key: str) -> float:
        """The balance less what this key's unfinished tasks will cost when Ready."""
        return self.standing(api_key).available

    def scenario(self) -> Scenario:
        return self._scenario

    def set_scenario(self, scenario: Scenario) -> None:
        """Apply ``scenario`` to every request until the next reset."""
        with self._lock:
            self._scenario = scenario
            self._fault_hits = collections.Counter(
                {key: n for key, n in self._fault_hits.items() if key[0] != SERVER_SCOPE}
            )

    def take_fault(self, scope: str, target: Target, times: int | None) -> bool:
        """Whether a status fault limited to ``times`` exchanges still applies, counting it."""
        if times is None:
            return True
        with self._lock:
            self._fault_hits[scope, target] += 1
            return self._fault_hits[scope, target] <= times

    def record_delivery(self, delivery: Delivery) -> None:
        with self._lock:
            self._deliveries[delivery.task_id] = delivery

    def deliveries(self) -> tuple[Delivery, ...]:
        with self._lock:
            return tuple(self._deliveries.values())

    def record(self, call: Call) -> None:
        self._journal.append(call)

    def calls(self) -> tuple[Call, ...]:
        with self._lock:
            return tuple(self._journal)

    def tasks(self) -> tuple[Task, ...]:
        with self._lock:
            return tuple(self._advance(task) for task in list(self._tasks.values()))

    def _settle(self, api_key: str | None) -> None:
        """Account for the key's tasks whose time has come (by poll count, only polls do).

        Only the counts and the balance change here; each task itself is brought up to
        date when it is next looked at (``_advance``), so settling stays cheap.
        """
        due = self._due.get(api_key)
        now = self._clock.now()
        while due and due[0][0] <= now:
            _, task_id = heapq.heappop(due)
            task = self._tasks.get(task_id)
            if task is not None and not task.charged and task_id not in self._settled:
                self._account(task, task.outcome)
                self._settled.add(task_id)

    def _account(self, task: Task, final: TaskStatus) -> None:
        """Stop counting a finished task against its key; charge it if it is Ready."""
        key = task.generation.api_key
        self._release(task)
        if key is not None and final is TaskStatus.READY:
            self._balances[key] = self._balances.get(key, self._starting_credits) - (
                task.generation.price
            )

    def _release(self, task: Task) -> None:
        """Stop counting an unfinished task against its key."""
        key = task.generation.api_key
        self._uncharged[key].discard(task.id)
        if task.outcome is TaskStatus.READY:
            self._reserved[key] -= task.generation.price

    def _advance(self, task: Task, *, polls: int | None = None) -> Task:
        """The task as of now (and, from a poll, with its new poll count), stored.

        Every change is made in one copy, and none when nothing changed: this runs on
        every poll.
        """
        changes: dict[str, Any] = {} if polls is None else {"polls": polls}
        if not task.status.is_final:
            stage = self._next_stage(task, task.polls if polls is None else polls)
            for name, value in stage.items():
                if getattr(task, name) != value:
                    changes[name] = value
        status: TaskStatus = changes.get("status", task.status)
        if status.is_final and not task.charged:
            if task.id in self._settled:
                self._settled.discard(task.id)  # already accounted for by _settle
            else:
                self._account(task, status)
            changes["charged"] = True
        if changes:
            task = _evolved(task, changes)
        self._tasks[task.id] = task
        return task

    def _next_stage(self, task: Task, polls: int) -> dict[str, Any]:
        """What changes in a task still working, seen now after ``polls`` polls."""
        if task.outcome is TaskStatus.REQUEST_MODERATED:
            # Rejected at submission: final from the first look, never generated.
            return {"status": task.outcome, "progress": None}
        generation = task.generation
        stage = stage_at(
            self._progression,
            created_at=task.created_at,
            now=self._clock.now(),
            polls=polls,
            working=generation.working,
            tenths=generation.tenths,
        )
        if not stage.finished:
            return {"status": stage.status, "progress": stage.progress}
        return {
            "status": task.outcome,
            "progress": None,
            "started_at": stage.started_at,
            "finished_at": stage.finished_at,
        }


def _uuid4(bits: int) -> str:
    """``str(uuid.UUID(int=bits, version=4))`` without the UUID object (twice as fast)."""
    bits = (bits & ~_VERSION_MASK | _VERSION_4) & ~_VARIANT_MASK | _VARIANT_RFC_4122
    digits = f"{bits:032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


_VERSION_MASK, _VERSION_4 = 0xF000 << 64, 4 << 76
_VARIANT_MASK, _VARIANT_RFC_4122 = 0xC000 << 48, 0x8000 << 48

_TASK_FIELDS = tuple(field.name for field in dataclasses.fields(Task))
_set_field = object.__setattr__


def _evolved(task: Task, changes: Mapping[str, Any]) -> Task:
    """``dataclasses.replace(task, **changes)`` at a third of the cost, for the poll path.

    Fills a new Task's slots directly (Task has no ``__post_init__`` to skip); replace
    walks the fields' metadata and the frozen ``__init__`` on every call.
    """
    copy = object.__new__(Task)
    for name in _TASK_FIELDS:
        _set_field(copy, name, changes[name] if name in changes else getattr(task, name))
    return copy
