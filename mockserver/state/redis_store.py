"""The shared store: Redis, for several worker processes or hosts serving as one mock.

Every step the protocol calls atomic is one Lua script or one MULTI, so concurrent
submits from any number of processes never overdraw a key nor pass its limits, and a
task is charged once. Round trips, on the hot paths: a poll is one (the parsed record
is kept in this process: records never change); a submit two (the sequence number, then
the admission); the journal is written in batches, off the request path.

Everything the mock writes carries a TTL (tasks, their blobs, fault counters and
deliveries: ``task_retention_seconds``; the journal is capped by length and expires
with no traffic), so a long-running shared Redis stays bounded. Keys share a prefix
(``bfl-mock:`` by default, or the URL's ``?prefix=``), so one Redis can hold several
mocks apart.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from mockserver.state.codec import CALLS, DELIVERIES, RECORDS
from mockserver.state.protocol import StoreUnavailable
from mockserver.state.records import (
    Admission,
    Call,
    Delivery,
    Refusal,
    Standing,
    TaskRecord,
    TaskState,
)
from mockserver.state.redis_scripts import ADMIT, CLAIM, POLL, SETTLE, STANDING

DEFAULT_PREFIX = "bfl-mock:"
SCENARIO_FRESH_SECONDS = 0.1
"""A scenario set through another process is seen here within this long."""
JOURNAL_FLUSH_SECONDS = 0.05
JOURNAL_BATCH = 200
RECORDS_KEPT = 20_000
"""Parsed records kept in this process (they never change)."""
SOCKET_TIMEOUT_SECONDS = 2.0
CONNECTIONS = 64
"""Connections to Redis one process opens at most."""
T = TypeVar("T")


class RedisStore:
    """The protocol on one Redis (``redis://host:port/db``)."""

    def __init__(
        self,
        url: str,
        *,
        starting_credits: float,
        journal_limit: int,
        retention: float,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        query = urllib.parse.parse_qs(parts.query)
        self.url = urllib.parse.urlunsplit((*parts[:3], "", ""))
        self._prefix = query.get("prefix", [DEFAULT_PREFIX])[0]
        self._starting = starting_credits
        self._journal_limit = journal_limit
        self._retention = int(retention)
        self._client: redis.Redis | None = None
        self._records: collections.OrderedDict[str, TaskRecord] = collections.OrderedDict()
        self._scenario: tuple[float, str] | None = None
        self._pending_calls: list[bytes] = []
        self._flusher: asyncio.Task[None] | None = None

    # -- connection ---------------------------------------------------------------------

    @property
    def _redis(self) -> redis.Redis:
        if self._client is None:
            # A request waits for a free connection rather than failing: a burst of
            # concurrent requests shares a bounded number of them.
            pool = redis.BlockingConnectionPool.from_url(
                self.url,
                max_connections=CONNECTIONS,
                timeout=SOCKET_TIMEOUT_SECONDS,
                socket_timeout=SOCKET_TIMEOUT_SECONDS,
                socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
                health_check_interval=30,
                # A pooled connection a restarted Redis closed fails its next command: that
                # one is sent again on a new connection. Were the first one run after all,
                # running it twice writes the same fields and members and settles once; a
                # poll may be counted twice, which only a polls-timed task would notice.
                retry=Retry(NoBackoff(), 1),
                retry_on_error=[RedisConnectionError],
            )
            self._client = redis.Redis(connection_pool=pool)
            self._admit_script = self._client.register_script(ADMIT)
            self._poll_script = self._client.register_script(POLL)
            self._settle_script = self._client.register_script(SETTLE)
            self._standing_script = self._client.register_script(STANDING)
            self._claim_script = self._client.register_script(CLAIM)
        return self._client

    async def _do(self, call: Awaitable[T]) -> T:
        """One Redis call; a lost or absent Redis is ``StoreUnavailable``, naming it."""
        try:
            return await call
        except (RedisConnectionError, RedisTimeoutError, OSError) as error:
            raise StoreUnavailable(f"Redis at {self.url} does not answer: {error}") from None

    async def open(self) -> None:
        await self._do(self._redis.ping())

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        with contextlib.suppress(StoreUnavailable):
            await self._flush()
        if self._client is not None:
            await self._client.aclose(close_connection_pool=True)
            self._client = None

    def _key(self, *parts: str) -> str:
        return self._prefix + ":".join(parts)

    async def reset(self) -> None:
        keep = self._key("secret", "")
        async for batch in self._scan(self._prefix + "*"):
            doomed = [key for key in batch if not key.decode().startswith(keep)]
            if doomed:
                await self._do(self._redis.unlink(*doomed))
        self._records.clear()
        self._scenario = None
        self._pending_calls.clear()

    async def _scan(self, pattern: str) -> AsyncIterator[list[bytes]]:
        cursor = 0
        while True:
            cursor, keys = await self._do(self._redis.scan(cursor, match=pattern, count=500))
            yield [_raw(key) for key in keys]
            if cursor == 0:
                return

    # -- shared values ------------------------------------------------------------------

    async def secret(self, name: str, proposed: bytes) -> bytes:
        key = self._key("secret", name)
        await self._do(self._redis.set(key, proposed, nx=True))
        value = await self._do(self._redis.get(key))
        return proposed if value is None else _raw(value)

    async def next_number(self) -> int:
        return int(await self._do(self._redis.incr(self._key("seq"))))

    async def scenario(self) -> str:
        now = time.monotonic()
        if self._scenario is None or now - self._scenario[0] > SCENARIO_FRESH_SECONDS:
            value = await self._do(self._redis.get(self._key("scenario")))
            self._scenario = (now, "" if value is None else _raw(value).decode())
        return self._scenario[1]

    async def set_scenario(self, directives: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key("scenario"), directives)
            pipe.delete(self._key("faults", ""))
            await self._do(pipe.execute())
        self._scenario = (time.monotonic(), directives)

    async def take_fault(self, scope: str, target: str, times: int) -> bool:
        key = self._key("faults", scope)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(key, target, 1)
            pipe.expire(key, self._retention)
            hits, _ = await self._do(pipe.execute())
        return int(hits) <= times

    # -- tasks ----------------------------------------------------------------------------

    def _key_parts(self, api_key: str | None) -> list[str]:
        who = api_key if api_key is not None else ""
        return [self._key("unfinished", who), self._key("charges", who), self._key("balances")]

    async def admit(self, admission: Admission, now: float) -> Refusal | None:
        record = admission.record
        delivery = b"" if admission.delivery is None else DELIVERIES.dump_json(admission.delivery)
        unqueued = admission.unqueued
        full = b"" if unqueued is None else DELIVERIES.dump_json(unqueued)
        refused = await self._do(
            self._admit_script(
                keys=[
                    *self._key_parts(admission.api_key),
                    self._key("task", record.id),
                    self._key("blob", record.blob),
                    self._key("tasks"),
                    self._key("deliveries"),
                    self._key("delivery-queue"),
                ],
                args=[
                    admission.api_key or "",
                    admission.endpoint,
                    admission.max_active,
                    -1 if admission.endpoint_limit is None else admission.endpoint_limit,
                    repr(self._starting),
                    repr(record.charge),
                    repr(now),
                    "" if record.due is None else repr(record.due),
                    RECORDS.dump_json(record),
                    record.id,
                    repr(record.created_at),
                    self._retention,
                    "1" if record.poll_faults else "0",
                    delivery,
                    self._prefix,
                    admission.delivery_limit,
                    full,
                ],
            )
        )
        if int(refused):
            return Refusal(int(refused))
        self._keep(record)
        return None

    async def poll(self, task_id: str) -> tuple[TaskRecord, TaskState] | None:
        return await self._read(task_id, count=True)

    async def count_poll(self, task_id: str) -> TaskState | None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(self._key("task", task_id), "polls", 1)
            pipe.hget(self._key("task", task_id), "settled_at")
            polls, settled = await self._do(pipe.execute())
        return TaskState(int(polls), None if settled is None else float(settled))

    async def task(self, task_id: str) -> tuple[TaskRecord, TaskState] | None:
        return await self._read(task_id, count=False)

    async def _read(self, task_id: str, *, count: bool) -> tuple[TaskRecord, TaskState] | None:
        known = self._records.get(task_id)
        found = await self._do(
            self._poll_script(
                keys=[self._key("task", task_id)],
                args=["1" if count else "0", "0" if known else "1"],
            )
        )
        if not found:
            return None
        polls, settled, raw = found
        record = known or self._keep(RECORDS.validate_json(raw))
        return record, TaskState(int(polls), None if settled is None else float(settled))

    def _keep(self, record: TaskRecord) -> TaskRecord:
        self._records[record.id] = record
        if len(self._records) > RECORDS_KEPT:
            self._records.popitem(last=False)
        return record

    async def task_by_blob(self, blob: str) -> tuple[TaskRecord, TaskState] | None:
        task_id = await self._do(self._redis.get(self._key("blob", blob)))
        return None if task_id is None else await self.task(_raw(task_id).decode())

    async def tasks(self, limit: int) -> list[tuple[TaskRecord, TaskState]]:
        ids: Any = await self._do(self._redis.zrevrange(self._key("tasks"), 0, max(0, limit - 1)))
        found = []
        gone: list[bytes] = []
        for raw_id in reversed(ids):
            task = await self.task(_raw(raw_id).decode())
            if task is None:
                gone.append(raw_id)
            else:
                found.append(task)
        if gone:
            await self._do(self._redis.zrem(self._key("tasks"), *gone))
        return found if limit else []

    async def settle(self, record: TaskRecord, at: float) -> TaskState | None:
        api_key = record.generation.api_key
        unfinished, charges, balances = self._key_parts(api_key)
        found = await self._do(
            self._settle_script(
                keys=[self._key("task", record.id), unfinished, charges, balances],
                args=[record.id, api_key or "", repr(at), repr(self._starting)],
            )
        )
        if not found:
            return None
        polls, settled = found
        return TaskState(int(polls), float(settled))

    # -- credits --------------------------------------------------------------------------

    async def _standing(self, api_key: str | None, endpoint: str, now: float) -> list[Any]:
        found: list[Any] = await self._do(
            self._standing_script(
                keys=self._key_parts(api_key),
                args=[api_key or "", endpoint, repr(now), repr(self._starting), self._prefix],
            )
        )
        return found

    async def standing(self, api_key: str | None, endpoint: str, now: float) -> Standing:
        count, here, available, _ = await self._standing(api_key, endpoint, now)
        return Standing(int(count), int(here), float(available) if api_key is not None else 0.0)

    async def balance(self, api_key: str, now: float) -> float:
        return float((await self._standing(api_key, "", now))[3])

    async def set_balance(self, api_key: str, credits: float, now: float) -> None:
        await self._standing(api_key, "", now)
        await self._do(self._redis.hset(self._key("balances"), api_key, repr(credits)))

    async def balances(self) -> dict[str, float]:
        raw = await self._do(self._redis.hgetall(self._key("balances")))
        return {_raw(key).decode(): float(value) for key, value in raw.items()}

    # -- journal --------------------------------------------------------------------------

    async def record_call(self, call: Call) -> None:
        self._pending_calls.append(CALLS.dump_json(call))
        if len(self._pending_calls) >= JOURNAL_BATCH:
            await self._flush()
        elif self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(JOURNAL_FLUSH_SECONDS)
        with contextlib.suppress(StoreUnavailable):
            await self._flush()

    async def _flush(self) -> None:
        batch, self._pending_calls = self._pending_calls, []
        if not batch:
            return
        key = self._key("journal")
        async with self._redis.pipeline(transaction=False) as pipe:
            for entry in batch:
                pipe.xadd(key, {"c": entry}, maxlen=self._journal_limit, approximate=False)
            pipe.expire(key, self._retention)
            await self._do(pipe.execute())

    async def calls(self) -> list[Call]:
        await self._flush()
        entries: Any = await self._do(self._redis.xrange(self._key("journal")))
        return [CALLS.validate_json(fields[b"c"]) for _, fields in entries]

    # -- webhook deliveries ---------------------------------------------------------------

    async def claim_deliveries(
        self, now: float, lease: float, limit: int
    ) -> list[tuple[Delivery, TaskRecord | None]]:
        claimed = await self._do(
            self._claim_script(
                keys=[self._key("delivery-queue"), self._key("deliveries")],
                args=[repr(now), repr(now + lease), limit, self._prefix],
            )
        )
        found = []
        for raw_delivery, raw_record in claimed:
            if not raw_delivery:
                continue
            record = RECORDS.validate_json(raw_record) if raw_record else None
            found.append((DELIVERIES.validate_json(raw_delivery), record))
        return found

    async def update_delivery(self, delivery: Delivery, due: float | None) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._key("deliveries"), delivery.task_id, DELIVERIES.dump_json(delivery))
            pipe.expire(self._key("deliveries"), self._retention)
            if due is None:
                pipe.zrem(self._key("delivery-queue"), delivery.task_id)
            else:
                pipe.zadd(self._key("delivery-queue"), {delivery.task_id: due})
            await self._do(pipe.execute())

    async def deliveries(self) -> list[Delivery]:
        raw = await self._do(self._redis.hvals(self._key("deliveries")))
        return [DELIVERIES.validate_json(value) for value in raw]


def _raw(value: bytes | str) -> bytes:
    """A value as bytes (the client answers bytes, but is typed to answer either)."""
    return value if isinstance(value, bytes) else value.encode()


def is_redis_url(url: str) -> bool:
    return urllib.parse.urlsplit(url).scheme in ("redis", "rediss", "unix")
