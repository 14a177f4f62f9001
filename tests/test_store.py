from __future__ import annotations

import dataclasses

from mockserver.clock import ManualClock
from mockserver.domain.generation import Generation
from mockserver.domain.lifecycle import Progression
from mockserver.domain.pricing import Price
from mockserver.settings import Timing
from mockserver.spec.openapi import TaskStatus
from mockserver.state.store import Call, MemoryStore

GENERATION = Generation(
    endpoint="/v1/flux-pro-1.1",
    api_key="k",
    prompt="p",
    result_prompt="p",
    seed=None,
    width=1024,
    height=768,
    output_format="jpeg",
    quote=Price(4.0, 0.0, 0.75),
    safety_tolerance=2,
)


def store(seed: int | None = 1, **kwargs: object) -> MemoryStore:
    return MemoryStore(
        progression=Progression(Timing.POLLS, 0.0, 1),
        starting_credits=10.0,
        clock=ManualClock(),
        seed=seed,
        **kwargs,  # type: ignore[arg-type]
    )


def test_same_seed_same_ids_and_random_seeds() -> None:
    first, second = store(seed=5), store(seed=5)
    a = [first.new_task(GENERATION) for _ in range(3)]
    b = [second.new_task(GENERATION) for _ in range(3)]
    assert [(t.id, t.seed, t.blob) for t in a] == [(t.id, t.seed, t.blob) for t in b]
    assert len({t.id for t in a}) == 3


def test_reset_forgets_everything_and_restarts_the_sequence() -> None:
    s = store()
    first = s.new_task(GENERATION)
    s.record(Call(0, "GET", "/", "", (), b"", 200, b"", None))
    s.poll(first.id)
    s.poll(first.id)
    assert s.balance("k") == 6.0
    s.reset()
    assert s.task(first.id) is None and s.calls() == () and s.balance("k") == 10.0
    assert s.new_task(GENERATION).id == first.id


def test_only_ready_tasks_are_charged_and_only_once() -> None:
    s = store()
    ready = s.new_task(GENERATION)
    moderated = s.new_task(GENERATION, outcome=TaskStatus.CONTENT_MODERATED)
    for _ in range(3):
        s.poll(ready.id)
        s.poll(moderated.id)
    assert s.task(moderated.id).status is TaskStatus.CONTENT_MODERATED  # type: ignore[union-attr]
    assert s.balance("k") == 6.0


def test_request_moderated_is_final_at_once() -> None:
    s = store()
    task = s.new_task(GENERATION, outcome=TaskStatus.REQUEST_MODERATED, outcome_details={"a": 1})
    polled = s.poll(task.id)
    assert polled is not None
    assert (polled.status, polled.progress, polled.details) == (
        TaskStatus.REQUEST_MODERATED, None, {"a": 1},
    )  # fmt: skip
    assert s.active_tasks("k") == 0


def test_active_tasks_counts_unfinished_tasks_of_one_key() -> None:
    s = store()
    one = s.new_task(GENERATION)
    s.new_task(GENERATION)
    s.new_task(dataclasses.replace(GENERATION, api_key="other"))
    assert s.active_tasks("k") == 2
    s.poll(one.id)
    s.poll(one.id)
    assert s.active_tasks("k") == 1


def test_journal_and_tasks_are_bounded() -> None:
    s = store(journal_limit=2, task_limit=2)
    for index in range(3):
        s.record(Call(index, "GET", "/", "", (), b"", 200, b"", None))
    tasks = [s.new_task(GENERATION) for _ in range(3)]
    assert [c.at for c in s.calls()] == [1, 2]
    assert s.task(tasks[0].id) is None and s.task_by_blob(tasks[0].blob) is None
    assert [t.id for t in s.tasks()] == [tasks[1].id, tasks[2].id]


def test_call_header_lookup_ignores_case() -> None:
    call = Call(0, "GET", "/", "", (("x-key", "v"),), b"", 200, b"", None, problems=("bad",))
    assert call.header("X-Key") == "v" and call.header("other") is None
    assert not call.accepted


def test_time_settles_each_due_task_once_per_key() -> None:
    clock = ManualClock()
    s = MemoryStore(
        progression=Progression(Timing.TIME, 3.0, 0), starting_credits=1e9, clock=clock, seed=1
    )
    for _ in range(2000):
        s.new_task(GENERATION)
    assert s.active_tasks("k") == 2000 and s.available("k") == 1e9 - 8000
    clock.advance(3.0)
    assert s.active_tasks("k") == 0 and s.balance("k") == 1e9 - 8000
    # Settled through the due-time heap: every task was charged exactly once.
    assert all(task.charged for task in s.tasks())
