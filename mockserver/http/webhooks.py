"""Webhook delivery: a bounded pool of attempts, fed by the store's queue of due deliveries.

A task with a ``webhook_url`` queues its delivery with it, due when the task ends. Each
process claims due deliveries from the shared queue under a lease (a process killed
mid-delivery leaves them to another once the lease runs out), at most ``webhook_
concurrency`` attempts at once and ``webhook_per_receiver`` per receiver, so a receiver
that hangs costs only its own deliveries. Each attempt has a timeout; a failed one is
queued again after the next retry delay; every attempt is kept with the delivery.

Receivers are loopback only by default (``webhook_hosts`` allows more), judged from the
URL alone: a name that is not allowed is never looked up.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import fnmatch
import functools
import hashlib
import hmac
import ipaddress
import logging
import urllib.parse
from collections.abc import Callable

import httpx

from mockserver.clock import Clock, SystemClock
from mockserver.domain import scenarios
from mockserver.http.addresses import host_of, is_loopback
from mockserver.render import bodies, webhook_payloads
from mockserver.settings import MockSettings, WebhookSignature
from mockserver.spec.openapi import TaskStatus
from mockserver.state.records import Delivery, DeliveryAttempt, Task, TaskRecord
from mockserver.state.tasks import Tasks

CONTENT_TYPE = ("content-type", "application/json")
LOST = "not sent: the webhook-lost directive"
NOT_ALLOWED = (
    "not sent: the host is not loopback nor in webhook_hosts "
    "(the mock calls only hosts it is allowed to)"
)
FORGOTTEN = "not sent: the task was forgotten before it ended"
GAVE_UP = "given up after {attempts} attempts"
IDLE_SECONDS = 0.1
"""How often an idle process looks for deliveries due (a local queueing wakes it at once)."""
LEASE_MARGIN_SECONDS = 5.0
LOG = logging.getLogger("mockserver.webhooks")

ResultBuilder = Callable[[Task, str, scenarios.Scenario], "bodies.SampleResult"]
"""The ``result`` of a Ready task, its sample URLs on the given origin."""


async def _wait(event: asyncio.Event, timeout: float) -> None:
    """Until ``event`` is set or ``timeout`` passes; a cancellation always goes through."""
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiter}, timeout=timeout)
    finally:
        waiter.cancel()


def allowed(url: str, hosts: frozenset[str]) -> bool:
    """Whether the mock may POST to ``url``: loopback, or a host the allow-list names.

    ``hosts`` holds names (``*`` patterns allowed), addresses and networks (CIDR).
    """
    if is_loopback(url):
        return True
    host = host_of(url)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in hosts:
        if entry == "*":
            return True
        if address is not None and "/" in entry:
            with contextlib.suppress(ValueError):
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
        elif fnmatch.fnmatchcase(host, entry.lower()):
            return True
    return False


class WebhookDispatcher:
    def __init__(
        self,
        settings: MockSettings,
        tasks: Tasks,
        renderer: bodies.Renderer,
        result_of: ResultBuilder,
        transport: httpx.AsyncBaseTransport | None = None,
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
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._worker: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._changed = asyncio.Event()
        self._stopping = False
        self._running: dict[str, asyncio.Task[None]] = {}
        self._receivers: collections.defaultdict[str, asyncio.Semaphore] = collections.defaultdict(
            lambda: asyncio.Semaphore(settings.webhook_per_receiver)
        )
        self._lease = settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS

    def start(self) -> None:
        """Run the worker on the current event loop (again, if the loop changed)."""
        loop = asyncio.get_running_loop()
        if self._worker is None or self._worker.done() or self._worker.get_loop() is not loop:
            # An app served without a lifespan may meet a new loop per request (a test
            # client used without ``with``): the worker and its events follow it.
            self._wake, self._changed = asyncio.Event(), asyncio.Event()
            self._stopping = False
            self._worker = loop.create_task(self._run())

    def queued(self) -> None:
        """A delivery was queued in this process: look for due ones now."""
        self.start()
        self._wake.set()

    async def close(self) -> None:
        """Stop claiming; cut the attempts under way (their leases hand them to others)."""
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
        if running:
            LOG.warning("bfl-mock: %d webhook deliveries abandoned at shutdown", len(running))
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def changed(self, timeout: float) -> None:
        """Until a delivery of this process changes, or ``timeout`` passes."""
        self.start()
        await _wait(self._changed, timeout)

    async def _run(self) -> None:
        while not self._stopping:
            free = self._settings.webhook_concurrency - len(self._running)
            if free > 0:
                try:
                    claimed = await self._store.claim_deliveries(
                        self._wall.now(), self._lease, free
                    )
                except Exception as error:  # a lost shared store: try again later
                    LOG.warning("bfl-mock: cannot claim webhook deliveries: %s", error)
                    claimed = []
                for delivery, record in claimed:
                    if delivery.task_id not in self._running:
                        self._begin(delivery, record)
            self._wake.clear()
            if not self._stopping:
                await _wait(self._wake, IDLE_SECONDS)

    def _begin(self, delivery: Delivery, record: TaskRecord | None) -> None:
        attempt = asyncio.get_running_loop().create_task(self._deliver(delivery, record))
        self._running[delivery.task_id] = attempt
        attempt.add_done_callback(functools.partial(self._ended, delivery.task_id))

    def _ended(self, task_id: str, attempt: asyncio.Task[None]) -> None:
        self._running.pop(task_id, None)

    async def _deliver(self, delivery: Delivery, record: TaskRecord | None) -> None:
        try:
            if not delivery.body:
                delivery = await self._prepare(delivery, record)
                if delivery.done:
                    await self._update(delivery, None)
                    return
            async with self._receivers[_receiver(delivery.url)]:
                attempt = await self._attempt(delivery)
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

    async def _prepare(self, delivery: Delivery, record: TaskRecord | None) -> Delivery:
        """The first time: the task ends now, and what to send is known."""
        if record is None:
            return dataclasses.replace(delivery, skipped=True, note=FORGOTTEN)
        task = await self._tasks.complete(record)
        server = scenarios.parsed(await self._store.scenario())
        body = self._payload(task, delivery.origin, server)
        delivery = dataclasses.replace(
            delivery, body=body, headers=tuple(self._headers(task, body))
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

    async def _attempt(self, delivery: Delivery) -> DeliveryAttempt:
        at = self._wall.now()
        # Header values go as UTF-8: a secret is whatever text the client sent.
        headers = [(name.encode(), value.encode()) for name, value in delivery.headers]
        try:
            answer = await self._http().post(delivery.url, content=delivery.body, headers=headers)
        except Exception as error:  # any failure is the attempt's result, kept
            return DeliveryAttempt(at, None, f"{type(error).__name__}: {error}".rstrip(": "))
        return DeliveryAttempt(at, answer.status_code)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            limit = self._settings.webhook_concurrency
            self._client = httpx.AsyncClient(
                timeout=self._settings.webhook_timeout_seconds,
                transport=self._transport,
                follow_redirects=False,
                limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
                trust_env=False,
            )
        return self._client

    def _payload(self, task: Task, origin: str, server: scenarios.Scenario) -> bytes:
        succeeded = task.status is TaskStatus.READY
        error = None
        if not succeeded:
            details = task.details or {}
            error = str(details.get(bodies.ERROR_DETAIL) or self._renderer.status_text(task.status))
        return webhook_payloads.webhook_payload(
            self._settings.webhook_style,
            task_id=task.id,
            status_text=self._renderer.status_text(task.status),
            succeeded=succeeded,
            result=self._result_of(task, origin, server) if succeeded else None,
            error=error,
            now=self._tasks.clock.now(),
        )

    def _headers(self, task: Task, body: bytes) -> list[tuple[str, str]]:
        secret = task.generation.webhook_secret
        scheme = self._settings.webhook_signature
        if not secret or scheme is WebhookSignature.NONE:
            return [CONTENT_TYPE]
        if scheme is WebhookSignature.HMAC_SHA256:
            digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            value = f"sha256={digest}"
        else:
            value = secret
        return [CONTENT_TYPE, (self._settings.webhook_signature_header, value)]


def _receiver(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()
