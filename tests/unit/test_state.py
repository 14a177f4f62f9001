"""The task rules over each store: one behaviour suite, run against memory and Redis alike.

Every test here runs twice, once per backend (``backend``), through the rules layer
(``Tasks``) and the store's protocol: what a client sees must not depend on where the
state lives. The Redis runs use a real ``redis-server`` (``redis_server.py``).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as redis

from mockserver.clock import ManualClock
from mockserver.domain.generation import Generation
from mockserver.domain.lifecycle import Progression
from mockserver.domain.outcomes import Outcome
from mockserver.domain.pricing import Price
from mockserver.settings import Timing
from mockserver.spec.openapi import TaskStatus
from mockserver.state.memory import MemoryStore
from mockserver.state.protocol import Store
from mockserver.state.records import Call, Refusal, Task
from mockserver.state.redis_store import RedisStore
from mockserver.state.tasks import Submission, Tasks

pytestmark = pytest.mark.anyio
CREDITS = 100.0
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
)
StoreFactory = Callable[..., Store]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["memory", "redis"])
def make_store(request: pytest.FixtureRequest) -> StoreFactory:
    """Builds stores of one backend (each Redis one under this test's own key prefix)."""

    def memory(**options: Any) -> Store:
        return MemoryStore(
            starting_credits=options.get("credits", CREDITS),
            journal_limit=options.get("journal_limit", 100),
            task_limit=options.get("task_limit", 1000),
            retention=options.get("retention", 3600.0),
        )

    if request.param == "memory":
        return memory
    url = request.getfixturevalue("redis_url")

    def redis(**options: Any) -> Store:
        return RedisStore(
            url,
            starting_credits=options.get("credits", CREDITS),
            journal_limit=options.get("journal_limit", 100),
            retention=options.get("retention", 3600.0),
        )

    return redis


@pytest.fixture
async def store(make_store: StoreFactory) -> AsyncIterator[Store]:
    opened = make_store()
    await opened.open()
    yield opened
    await opened.reset()
    await opened.close()


def tasks_over(
    store: Store,
    *,
    clock: ManualClock | None = None,
    timing: Timing = Timing.POLLS,
    polls: int = 2,
    seed: int | None = 1,
    max_active: int = 24,
) -> Tasks:
    return Tasks(
        store,
        clock or ManualClock(),
        Progression(timing, 3.0, polls),
        max_active=max_active,
        delivery_limit=100,
        seed=seed,
    )


def submission(
    outcome: TaskStatus = TaskStatus.READY, webhook: str | None = None, **changes: Any
) -> Submission:
    generation = dataclasses.replace(GENERATION, webhook_url=webhook, **changes)
    return Submission(
        generation=generation,
        outcome=Outcome(outcome, error="x" if outcome is TaskStatus.ERROR else None),
        directives="",
        poll_faults=False,
        origin="http://mock",
    )


async def admitted(tasks: Tasks, **options: Any) -> Task:
    task = await tasks.submit(submission(**options))
    assert isinstance(task, Task), task
    return task


async def test_ids_are_reproducible_with_a_seed_and_never_repeat(
    make_store: StoreFactory,
) -> None:
    runs = []
    for _ in range(2):
        store = make_store()
        await store.open()
        tasks = tasks_over(store, seed=5)
        await tasks.start()
        runs.append([await admitted(tasks) for _ in range(3)])
        await store.reset()
        await store.close()
    assert [(t.id, t.seed, t.blob) for t in runs[0]] == [(t.id, t.seed, t.blob) for t in runs[1]]
    assert len({t.id for t in runs[0]}) == 3 and len({t.blob for t in runs[0]}) == 3


async def test_two_processes_sharing_redis_agree_on_ids_and_see_each_others_tasks(
    redis_url: str,
) -> None:
    def shared() -> RedisStore:
        return RedisStore(redis_url, starting_credits=CREDITS, journal_limit=10, retention=60.0)

    first, second = shared(), shared()
    for store in (first, second):
        await store.open()
    one, other = tasks_over(first, seed=None), tasks_over(second, seed=None)
    await one.start()
    await other.start()
    made = [await admitted(one), await admitted(other), await admitted(one)]
    assert len({task.id for task in made}) == 3
    seen = await other.look(made[0].id)
    assert seen is not None and seen.generation == GENERATION
    await first.reset()
    for store in (first, second):
        await store.close()


async def test_reset_forgets_everything_and_restarts_the_sequence(store: Store) -> None:
    tasks = tasks_over(store)
    await tasks.start()
    first = await admitted(tasks)
    await store.record_call(Call(0, "GET", "/", "", (), b"", 200, b""))
    await tasks.poll(first.id)
    await tasks.poll(first.id)
    await tasks.poll(first.id)
    assert await store.balance("k", 0) == CREDITS - 4
    await store.reset()
    assert await tasks.look(first.id) is None and await store.calls() == []
    assert await store.balance("k", 0) == CREDITS
    assert (await admitted(tasks)).id == first.id


async def test_only_ready_tasks_are_charged_and_only_once(store: Store) -> None:
    tasks = tasks_over(store)
    await tasks.start()
    ready = await admitted(tasks)
    moderated = await admitted(tasks, outcome=TaskStatus.CONTENT_MODERATED)
    for _ in range(4):
        await tasks.poll(ready.id)
        await tasks.poll(moderated.id)
    final = await tasks.look(moderated.id)
    assert final is not None and final.status is TaskStatus.CONTENT_MODERATED
    assert await store.balance("k", 0) == CREDITS - 4


async def test_a_task_is_charged_once_however_many_look_at_it_at_once(store: Store) -> None:
    tasks = tasks_over(store, polls=0)
    await tasks.start()
    task = await admitted(tasks)
    seen = await asyncio.gather(*(tasks.poll(task.id) for _ in range(50)))
    assert {s.status for s in seen if s} == {TaskStatus.READY}
    assert await store.balance("k", 0) == CREDITS - 4


async def test_progress_and_statuses_follow_the_polls(store: Store) -> None:
    tasks = tasks_over(store, polls=3)
    await tasks.start()
    working = (TaskStatus.PENDING, TaskStatus.REASONING, TaskStatus.GENERATING)
    task = await admitted(tasks, working=working, tenths=False)
    seen = [await tasks.poll(task.id) for _ in range(4)]
    assert [(s.status, s.progress) for s in seen if s] == [
        (TaskStatus.PENDING, None),
        (TaskStatus.REASONING, None),
        (TaskStatus.GENERATING, None),
        (TaskStatus.READY, None),
    ]


async def test_request_moderated_is_final_at_once_and_costs_nothing(store: Store) -> None:
    tasks = tasks_over(store)
    await tasks.start()
    task = await admitted(tasks, outcome=TaskStatus.REQUEST_MODERATED)
    polled = await tasks.poll(task.id)
    assert polled is not None and (polled.status, polled.progress) == (
        TaskStatus.REQUEST_MODERATED,
        None,
    )
    standing = await store.standing("k", GENERATION.endpoint, 0)
    assert (standing.active, standing.available) == (0, CREDITS)


async def test_limits_count_unfinished_tasks_per_key_and_per_endpoint(store: Store) -> None:
    tasks = tasks_over(store, max_active=3)
    await tasks.start()
    one = await admitted(tasks)
    limited: dict[str, Any] = {"endpoint": "/v1/flux-kontext-max", "active_limit": 1}
    await admitted(tasks, **limited)
    assert await tasks.submit(submission(**limited)) == Refusal(429)
    await admitted(tasks, api_key="other")
    await admitted(tasks)
    assert await tasks.submit(submission()) == Refusal(429)
    for _ in range(3):
        await tasks.poll(one.id)
    assert (await store.standing("k", GENERATION.endpoint, 0)).active == 2
    assert isinstance(await tasks.submit(submission()), Task)


async def test_credits_cover_what_unfinished_tasks_will_cost(store: Store) -> None:
    tasks = tasks_over(store)
    await tasks.start()
    await store.set_balance("k", 10.0, 0)
    await admitted(tasks)
    await admitted(tasks)
    assert await tasks.submit(submission()) == Refusal(402)
    standing = await store.standing("k", GENERATION.endpoint, 0)
    assert (standing.active, standing.available) == (2, 2.0)
    await store.set_balance("k", 100.0, 0)
    assert isinstance(await tasks.submit(submission()), Task)
    assert await store.balances() == {"k": 100.0}


async def test_concurrent_submits_never_overdraw_nor_pass_the_limit(
    make_store: StoreFactory,
) -> None:
    store = make_store(credits=40.0)
    await store.open()
    tasks = tasks_over(store, max_active=24)
    await tasks.start()
    answers = await asyncio.gather(*(tasks.submit(submission()) for _ in range(200)))
    admitted_tasks = [answer for answer in answers if isinstance(answer, Task)]
    assert len(admitted_tasks) == 10  # 40 credits, 4 each
    assert {answer for answer in answers if isinstance(answer, Refusal)} == {Refusal(402)}
    assert (await store.standing("k", GENERATION.endpoint, 0)).available == 0.0
    for task in admitted_tasks:
        for _ in range(3):
            await tasks.poll(task.id)
    assert await store.balance("k", 0) == 0.0
    await store.set_balance("rich", 1e6, 0)
    rich = await asyncio.gather(*(tasks.submit(submission(api_key="rich")) for _ in range(100)))
    assert sum(isinstance(answer, Task) for answer in rich) == 24
    await store.reset()
    await store.close()


async def test_by_time_due_tasks_are_settled_once(make_store: StoreFactory) -> None:
    store = make_store(credits=1e9)
    await store.open()
    clock = ManualClock()
    tasks = tasks_over(store, clock=clock, timing=Timing.TIME, max_active=1000)
    await tasks.start()
    made = [await admitted(tasks) for _ in range(300)]
    standing = await store.standing("k", GENERATION.endpoint, clock.now())
    assert (standing.active, standing.available) == (300, 1e9 - 1200)
    clock.advance(3.0)
    assert await store.balance("k", clock.now()) == 1e9 - 1200
    assert (await store.standing("k", GENERATION.endpoint, clock.now())).active == 0
    final = await tasks.poll(made[0].id)
    assert final is not None and final.status is TaskStatus.READY
    assert (final.started_at, final.finished_at) == (made[0].created_at + 0.25, clock.now())
    assert await store.balance("k", clock.now()) == 1e9 - 1200  # polling did not charge again
    await store.reset()
    await store.close()


async def test_a_task_injecting_poll_faults_counts_a_poll_only_when_told(store: Store) -> None:
    tasks = tasks_over(store)
    await tasks.start()
    faulty = await tasks.submit(dataclasses.replace(submission(), poll_faults=True))
    assert isinstance(faulty, Task)
    read = await tasks.poll(faulty.id)
    assert read is not None and read.polls == 0
    counted = await tasks.count_poll(read)
    assert counted.polls == 1


async def test_the_journal_is_capped_oldest_first(make_store: StoreFactory) -> None:
    store = make_store(journal_limit=2)
    await store.open()
    for at in range(3):
        await store.record_call(Call(at, "GET", "/", "", (("x", "y"),), b"\xff", 200, b"{}"))
    assert [call.at for call in await store.calls()] == [1, 2]
    assert (await store.calls())[0].body == b"\xff"
    await store.reset()
    await store.close()


async def test_the_first_proposal_of_a_secret_wins(store: Store) -> None:
    assert await store.secret("signing", b"first") == b"first"
    assert await store.secret("signing", b"second") == b"first"
    await store.reset()  # a reset keeps secrets: URLs handed out stay valid
    assert await store.secret("signing", b"third") == b"first"


async def test_fault_counters_count_per_scope_and_restart_with_a_new_scenario(
    store: Store,
) -> None:
    assert [await store.take_fault("", "poll", 2) for _ in range(3)] == [True, True, False]
    assert await store.take_fault("task-1", "poll", 1)
    await store.set_scenario("poll-503=2")
    assert await store.scenario() == "poll-503=2"
    assert await store.take_fault("", "poll", 2)
    assert not await store.take_fault("task-1", "poll", 1)  # task scopes are kept


async def test_a_delivery_is_leased_to_one_claimer_until_its_lease_runs_out(
    store: Store,
) -> None:
    clock = ManualClock()
    tasks = tasks_over(store, clock=clock)
    await tasks.start()
    task = await admitted(tasks, webhook="http://127.0.0.1:9/hook")
    now = clock.now()
    first = await store.claim_deliveries(now, 10.0, 5)
    assert [(d.task_id, r.id if r else None) for d, r in first] == [(task.id, task.id)]
    assert await store.claim_deliveries(now + 5, 10.0, 5) == []
    taken_over = await store.claim_deliveries(now + 10, 10.0, 5)
    assert [d.task_id for d, _ in taken_over] == [task.id]
    done = dataclasses.replace(first[0][0], delivered=True)
    await store.update_delivery(done, None)
    assert await store.claim_deliveries(now + 100, 10.0, 5) == []
    assert await store.deliveries() == [done]


async def test_deliveries_past_the_queue_limit_are_kept_as_not_queued(store: Store) -> None:
    tasks = Tasks(
        store, ManualClock(), Progression(Timing.POLLS, 0, 1), max_active=24, delivery_limit=1,
        seed=1,
    )  # fmt: skip
    await tasks.start()
    await admitted(tasks, webhook="http://127.0.0.1:9/a")
    await admitted(tasks, webhook="http://127.0.0.1:9/b")
    kept = sorted(await store.deliveries(), key=lambda d: d.url)
    assert [(d.url, d.skipped) for d in kept] == [
        ("http://127.0.0.1:9/a", False),
        ("http://127.0.0.1:9/b", True),
    ]
    assert kept[1].note == "not sent: 1 webhooks were waiting (webhook_queue_limit)"


async def test_tasks_past_their_retention_are_forgotten(make_store: StoreFactory) -> None:
    store = make_store(retention=60.0)
    await store.open()
    clock = ManualClock()
    tasks = tasks_over(store, clock=clock)
    await tasks.start()
    old = await admitted(tasks)
    clock.advance(61.0)
    newer = await admitted(tasks)  # a submit forgets what is past its retention
    if isinstance(store, MemoryStore):
        assert await tasks.look(old.id) is None
    # (Redis forgets by its own clock: see the TTL test below.)
    assert [task.id for task in await tasks.recent(10)] == [newer.id]
    await store.reset()
    await store.close()


PERMANENT = ("seq", "secret:", "balances", "scenario", "unfinished:", "charges:", "tasks",
             "delivery-queue")  # fmt: skip
"""Keys without a TTL: counters, balances, and indexes trimmed as tasks end or expire."""


async def test_every_redis_key_the_mock_writes_expires_unless_it_is_bounded(
    redis_url: str,
) -> None:
    store = RedisStore(redis_url, starting_credits=100.0, journal_limit=10, retention=60.0)
    await store.open()
    tasks = tasks_over(store)
    await tasks.start()
    task = await admitted(tasks, webhook="http://127.0.0.1:9/hook")
    await store.take_fault(task.id, "poll", 1)
    await store.record_call(Call(0, "GET", "/", "", (), b"", 200, b""))
    await store.calls()
    prefix = redis_url.split("prefix=")[1]
    raw = redis.Redis.from_url(redis_url.split("?")[0])
    keys = [key.decode() async for key in raw.scan_iter(prefix + "*")]
    expiring = {key: await raw.ttl(key) for key in keys}
    await raw.aclose()
    transient = {
        key: ttl
        for key, ttl in expiring.items()
        if not key.removeprefix(prefix).startswith(PERMANENT)
    }
    assert len(transient) >= 5, expiring  # task, blob, fault counter, deliveries, journal
    assert all(0 < ttl <= 60 for ttl in transient.values()), transient
    await store.reset()
    await store.close()


def test_a_store_that_does_not_answer_is_named() -> None:
    async def scenario() -> None:
        lost = RedisStore(
            "redis://127.0.0.1:9/0", starting_credits=1.0, journal_limit=1, retention=1.0
        )
        with pytest.raises(Exception, match=r"Redis at redis://127\.0\.0\.1:9/0 does not answer"):
            await lost.open()
        await lost.close()

    asyncio.run(scenario())
