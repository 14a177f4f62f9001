"""Webhook delivery: a bounded pool of attempts, fed by the store's queue of due deliveries.

A task with a ``webhook_url`` queues its delivery with it, due when the task ends (past
``webhook_queue_limit`` waiting, it is kept as not sent, saying why). Each process claims
due deliveries from the shared queue under a lease (a process killed mid-delivery leaves
them to another once the lease runs out) and lines them up by receiver (scheme, host and
port). Each receiver has its own HTTP client of ``webhook_per_receiver`` connections, and at
most ``webhook_concurrency`` attempts run at once: a receiver that hangs holds only its own
connections, so it costs only its own deliveries. Each attempt has one deadline for the
whole exchange; a failed one is queued again after the next retry delay; every attempt is
kept with the delivery.

Receivers are loopback only by default (``webhook_hosts`` allows more), judged from the
URL alone: a name that is not allowed is never looked up.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import functools
import logging
import urllib.parse
from collections.abc import Callable

import httpx

from mockserver.clock import Clock, SystemClock
from mockserver.domain import scenarios
from mockserver.http import webhook_messages as messages
from mockserver.http.addresses import allowed, connect_to
from mockserver.render import responses
from mockserver.settings import MEMORY_STORE, MockSettings
from mockserver.state.records import Delivery, DeliveryAttempt, Task, TaskRecord
from mockserver.state.tasks import Tasks

LOST = "not sent: the webhook-lost directive"
NOT_ALLOWED = (
    "not sent: the host is not loopback nor in webhook_hosts "
    "(the mock calls only hosts it is allowed to)"
)
FORGOTTEN = "not sent: the task was forgotten before it ended"
GAVE_UP = "given up after {attempts} attempts"
NO_ANSWER = "TimeoutError: no answer within {seconds:g} s (webhook_timeout_seconds)"
IDLE_SECONDS = 0.1
"""How often an idle process looks for deliveries due (a local queueing wakes it at once)."""
LEASE_MARGIN_SECONDS = 5.0
LANE_IDLE_SECONDS = 5.0
"""A receiver's client is closed after this long unused (httpx's own keep-alive expiry)."""
LOG = logging.getLogger("mockserver.webhooks")

ResultBuilder = Callable[[Task, str, scenarios.Scenario], "responses.SampleResult"]
"""The ``result`` of a Ready task, its sample URLs on the given origin."""


async def _wait(event: asyncio.Event, timeout: float) -> None:
    """Until ``event`` is set or ``timeout`` passes; a cancellation always goes through."""
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiter}, timeout=timeout)
    finally:
        waiter.cancel()


@dataclasses.dataclass(slots=True)
class _Claim:
    delivery: Delivery
    leased_until: float
    started: bool = False
    """Its attempt began: the attempt keeps the delivery from now on, not a renewal."""


@dataclasses.dataclass(eq=False, slots=True)
class _Lane:
    """One receiver's claimed deliveries: its attempts under way and those waiting a turn."""

    waiting: collections.deque[_Claim] = dataclasses.field(default_factory=collections.deque)
    active: int = 0
    client: httpx.AsyncClient | None = None
    last_used: float = 0.0


class WebhookDispatcher:
    def __init__(
        self,
        settings: MockSettings,
        tasks: Tasks,
        renderer: responses.Renderer,
        result_of: ResultBuilder,
        wall: Clock | None = None,
    ) -> None:
        self._settings = settings
        # Deliveries wait real time between attempts, whatever clock drives the tasks
        # (a test's hand-moved clock): leases and retries are shared across processes.
        self._wall = wall or SystemClock()
        self._tasks = tasks
        self._store = tasks.store
        self._renderer = renderer
        self._result_of = result_of
        self._worker: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._changed = asyncio.Event()
        self._stopping = False
        self._lanes: dict[str, _Lane] = {}
        self._claimed: set[str] = set()
        """Task ids of the deliveries this process holds, waiting or under way."""
        self._running: dict[str, asyncio.Task[None]] = {}
        # A claim waits its turn behind its receiver's attempts: its lease is renewed
        # while it waits, so no other process takes it meanwhile.
        self._lease = settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS
        self._renew_at = 0.0

    def start(self) -> None:
        """Run the worker on the current event loop (again, if the loop changed)."""
        loop = asyncio.get_running_loop()
        if self._worker is None or self._worker.done() or self._worker.get_loop() is not loop:
            # An app served without a lifespan may meet a new loop per request (a test
            # client used without ``with``): the worker and its events follow it.
            self._wake, self._changed = asyncio.Event(), asyncio.Event()
            self._stopping = False
            self._lanes, self._claimed, self._running = {}, set(), {}
            self._worker = loop.create_task(self._run())

    def queued(self) -> None:
        """A delivery was queued in this process: look for due ones now."""
        self.start()
        self._wake.set()

    async def close(self) -> None:
        """Stop claiming; cut the attempts under way, and say how many webhooks go unsent."""
        held = len(self._claimed)
        if self._worker is not None:
            # The flag ends the loop even where a cancellation is lost (Python 3.11's
            # ``wait_for`` may swallow one that meets its timeout).
            self._stopping = True
            self._wake.set()
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        running = list(self._running.values())
        for attempt in running:
            attempt.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        lanes, self._lanes = list(self._lanes.values()), {}
        for lane in lanes:
            if lane.client is not None:
                await lane.client.aclose()
        await self._report_unsent(held)
        self._claimed = set()

    async def _report_unsent(self, held: int) -> None:
        try:
            unsent = sum(not delivery.done for delivery in await self._store.deliveries())
        except Exception:  # a lost shared store: what this process held is still known
            unsent = held
        if not unsent:
            return
        if self._settings.store == MEMORY_STORE:
            LOG.warning("bfl-mock: %d webhook deliveries abandoned at shutdown", unsent)
        else:
            LOG.warning(
                "bfl-mock: %d webhook deliveries not sent yet, left in the store for another "
                "process",
                unsent,
            )

    async def changed(self, timeout: float) -> None:
        """Until a delivery of this process changes, or ``timeout`` passes."""
        self.start()
        await _wait(self._changed, timeout)

    async def _run(self) -> None:
        while not self._stopping:
            free = self._settings.webhook_concurrency - len(self._running)
            if free > 0:
                now = self._wall.now()
                try:
                    claimed = await self._store.claim_deliveries(now, self._lease, free)
                except Exception as error:  # a lost shared store: try again later
                    LOG.warning("bfl-mock: cannot claim webhook deliveries: %s", error)
                    claimed = []
                for delivery, record in claimed:
                    if delivery.task_id not in self._claimed:
                        await self._line_up(delivery, record, now + self._lease)
            self._pump()
            await self._renew()
            await self._close_idle()
            self._wake.clear()
            if not self._stopping:
                await _wait(self._wake, IDLE_SECONDS)

    async def _line_up(self, delivery: Delivery, record: TaskRecord | None, lease: float) -> None:
        """Queue a claimed delivery behind its receiver; the first time, its task ends now.

        Ended here, whatever the receiver's state: one that hangs holds no task unfinished.
        """
        try:
            if not delivery.body:
                delivery = await self._prepare(delivery, record)
                if delivery.done:
                    await self._update(delivery, None)
                    return
        except Exception:  # the lease hands it to another attempt later
            LOG.exception("bfl-mock: webhook delivery for task %s failed", delivery.task_id)
            return
        self._claimed.add(delivery.task_id)
        lane = self._lanes.setdefault(_receiver(delivery.url), _Lane())
        lane.waiting.append(_Claim(delivery, lease))

    def _pump(self) -> None:
        """Start waiting deliveries while their receivers and the global cap allow.

        One receiver at a time, the one served longest ago first: with more busy receivers
        than the cap has room for, each gets its turn.
        """
        per_receiver = self._settings.webhook_per_receiver
        started = True
        while started:
            started = False
            for key, lane in list(self._lanes.items()):
                if len(self._running) >= self._settings.webhook_concurrency:
                    return
                if lane.waiting and lane.active < per_receiver:
                    self._start(lane, lane.waiting.popleft())
                    self._lanes[key] = self._lanes.pop(key)  # to the back of the line
                    started = True

    def _start(self, lane: _Lane, claim: _Claim) -> None:
        claim.started = True
        lane.active += 1
        attempt = asyncio.get_running_loop().create_task(self._deliver(lane, claim))
        self._running[claim.delivery.task_id] = attempt
        attempt.add_done_callback(functools.partial(self._ended, claim.delivery.task_id))

    def _ended(self, task_id: str, attempt: asyncio.Task[None]) -> None:
        self._running.pop(task_id, None)
        if not self._stopping:
            self._pump()
            self._wake.set()

    async def _renew(self) -> None:
        """Extend the leases of claims still waiting their turn, before they run out."""
        now = self._wall.now()
        if now < self._renew_at:
            return
        self._renew_at = now + self._lease / 4
        for lane in list(self._lanes.values()):
            for claim in list(lane.waiting):
                # Checked after each write: a claim started meanwhile may already be done,
                # and renewing it would queue it again.
                if not claim.started and claim.leased_until - now < self._lease / 2:
                    claim.leased_until = now + self._lease
                    await self._store.update_delivery(claim.delivery, claim.leased_until)

    async def _close_idle(self) -> None:
        """Close the clients of receivers unused for a while (kept meanwhile, for keep-alive)."""
        now = self._wall.now()
        for key, lane in list(self._lanes.items()):
            if not lane.active and not lane.waiting and now - lane.last_used > LANE_IDLE_SECONDS:
                del self._lanes[key]
                if lane.client is not None:
                    await lane.client.aclose()

    async def _deliver(self, lane: _Lane, claim: _Claim) -> None:
        delivery = claim.delivery
        try:
            attempt = await self._attempt(lane, delivery)
            delivered = attempt.status is not None and 200 <= attempt.status < 300
            delivery = dataclasses.replace(
                delivery, attempts=(*delivery.attempts, attempt), delivered=delivered
            )
            delays = self._settings.webhook_retry_delays
            retry = len(delivery.attempts) - 1
            if delivered or retry >= len(delays):
                if not delivered:
                    note = GAVE_UP.format(attempts=len(delivery.attempts))
                    delivery = dataclasses.replace(delivery, failed=True, note=note)
                await self._update(delivery, None)
            else:
                await self._update(delivery, self._wall.now() + delays[retry])
        except Exception:  # the lease hands it to another attempt later
            LOG.exception("bfl-mock: webhook delivery for task %s failed", delivery.task_id)
        finally:
            self._claimed.discard(delivery.task_id)
            lane.active -= 1
            lane.last_used = self._wall.now()

    async def _prepare(self, delivery: Delivery, record: TaskRecord | None) -> Delivery:
        """The first time: the task ends now, and what to send is known."""
        if record is None:
            return dataclasses.replace(delivery, skipped=True, note=FORGOTTEN)
        task = await self._tasks.complete(record)
        server = scenarios.parsed(await self._store.scenario())
        result = functools.partial(self._result_of, task, delivery.origin, server)
        body = messages.payload(
            self._settings, self._renderer, task, result, self._tasks.clock.now()
        )
        delivery = dataclasses.replace(
            delivery, body=body, headers=tuple(messages.headers(self._settings, task, body))
        )
        if scenarios.parsed(record.directives).webhook_lost or server.webhook_lost:
            return dataclasses.replace(delivery, skipped=True, note=LOST)
        if not self._settings.webhook_any_host and not allowed(
            delivery.url, self._settings.webhook_hosts
        ):
            return dataclasses.replace(delivery, skipped=True, note=NOT_ALLOWED)
        return delivery

    async def _update(self, delivery: Delivery, due: float | None) -> None:
        await self._store.update_delivery(delivery, due)
        # Wake every waiter at once; later waiters wait on a fresh event.
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _attempt(self, lane: _Lane, delivery: Delivery) -> DeliveryAttempt:
        at = self._wall.now()
        # Header values go as UTF-8: a secret is whatever text the client sent.
        headers = [(name.encode(), value.encode()) for name, value in delivery.headers]
        target = connect_to(delivery.url)
        headers += [(name.encode(), value.encode()) for name, value in target.headers.items()]
        if lane.client is None:
            lane.client = self._client()
        post = asyncio.ensure_future(
            lane.client.post(
                target.url, content=delivery.body, headers=headers, extensions=target.extensions
            )
        )
        # One deadline for the whole exchange (httpx's are per read, a trickle renews
        # them); ``asyncio.wait`` rather than ``wait_for``, which may swallow a cancel.
        seconds = self._settings.webhook_timeout_seconds
        try:
            await asyncio.wait({post}, timeout=seconds)
        finally:
            if not post.done():
                post.cancel()
        if not post.done() or post.cancelled():
            await asyncio.wait({post})  # let it hand its connection back
            return DeliveryAttempt(at, None, NO_ANSWER.format(seconds=seconds))
        error = post.exception()
        if error is not None:  # any failure is the attempt's result, kept
            return DeliveryAttempt(at, None, f"{type(error).__name__}: {error}".rstrip(": "))
        return DeliveryAttempt(at, post.result().status_code)

    def _client(self) -> httpx.AsyncClient:
        """A receiver's own client: its connections are the receiver's limit, nobody else's."""
        limit = self._settings.webhook_per_receiver
        return httpx.AsyncClient(
            timeout=None,  # the attempt's deadline covers it all
            follow_redirects=False,
            limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
            trust_env=False,
        )


def _receiver(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()
