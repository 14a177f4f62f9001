"""Webhook delivery: when a task with a ``webhook_url`` ends, POST its outcome there.

Deliveries run as background tasks on the event loop (never blocking a request), with
a timeout and bounded retries, and each attempt is journaled in the store.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import ipaddress
import urllib.parse
from collections.abc import Callable

import httpx

from mockserver.render import responses
from mockserver.settings import MockSettings, Timing, WebhookSignature
from mockserver.spec.openapi import TaskStatus
from mockserver.state.store import Delivery, DeliveryAttempt, Task, TaskStore

CONTENT_TYPE = {"content-type": "application/json"}
LOST = "not sent: the webhook-lost directive"
NOT_LOCAL = (
    "not sent: the host is not on loopback or a private network "
    "(set webhook_any_host to deliver there)"
)
_LOCAL_NAMES = ("localhost", ".localhost")


def is_local(url: str) -> bool:
    """Whether ``url`` names this machine or a private network, judged without DNS."""
    host = (urllib.parse.urlsplit(url).hostname or "").rstrip(".")
    if host == _LOCAL_NAMES[0] or host.endswith(_LOCAL_NAMES[1]):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private


ResultBuilder = Callable[[Task], "responses.SampleResult"]


class WebhookDispatcher:
    def __init__(
        self,
        settings: MockSettings,
        store: TaskStore,
        renderer: responses.Renderer,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._renderer = renderer
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._running: set[asyncio.Task[None]] = set()

    def schedule(self, task: Task, result_of: ResultBuilder) -> None:
        """Deliver the task's outcome once it ends; returns at once."""
        running = asyncio.get_running_loop().create_task(self._deliver(task, result_of))
        self._running.add(running)
        running.add_done_callback(self._running.discard)

    async def close(self) -> None:
        for running in list(self._running):
            running.cancel()
        await asyncio.gather(*list(self._running), return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _deliver(self, task: Task, result_of: ResultBuilder) -> None:
        if self._settings.timing is Timing.TIME:
            due = task.created_at + self._settings.generation_seconds
            await asyncio.sleep(max(0.0, due - self._store.now()))
        finished = self._store.complete(task.id)
        if finished is None:
            return  # forgotten by a reset while waiting
        assert finished.generation.webhook_url is not None
        body = self._payload(finished, result_of)
        url = finished.generation.webhook_url
        note = None
        if finished.scenario.webhook_lost or self._store.scenario().webhook_lost:
            note = LOST
        elif not self._settings.webhook_any_host and not is_local(url):
            note = NOT_LOCAL
        delivery = Delivery(
            task_id=finished.id,
            url=url,
            body=body,
            headers=tuple(self._headers(finished, body).items()),
            skipped=note is not None,
            note=note,
        )
        self._store.record_delivery(delivery)
        if delivery.skipped:
            return
        delays = (0.0, *self._settings.webhook_retry_delays)
        for delay in delays:
            await asyncio.sleep(delay)
            attempt = await self._attempt(delivery)
            delivery = dataclasses.replace(
                delivery,
                attempts=(*delivery.attempts, attempt),
                delivered=attempt.status is not None and 200 <= attempt.status < 300,
            )
            self._store.record_delivery(delivery)
            if delivery.delivered:
                return

    async def _attempt(self, delivery: Delivery) -> DeliveryAttempt:
        at = self._store.now()
        # Header values go as UTF-8: a secret is whatever text the client sent.
        headers = [(name.encode(), value.encode()) for name, value in delivery.headers]
        try:
            answer = await self._http().post(delivery.url, content=delivery.body, headers=headers)
        except Exception as error:  # any failure is the attempt's result, journaled
            return DeliveryAttempt(at, None, f"{type(error).__name__}: {error}".rstrip(": "))
        return DeliveryAttempt(at, answer.status_code)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self._settings.webhook_timeout_seconds,
                transport=self._transport,
                follow_redirects=False,
            )
        return self._client

    def _payload(self, task: Task, result_of: ResultBuilder) -> bytes:
        succeeded = task.status is TaskStatus.READY
        error = None
        if not succeeded:
            details = task.details or {}
            error = str(
                details.get(responses.ERROR_DETAIL) or self._renderer.status_text(task.status)
            )
        return responses.webhook_payload(
            self._settings.webhook_style,
            task_id=task.id,
            status_text=self._renderer.status_text(task.status),
            succeeded=succeeded,
            result=result_of(task) if succeeded else None,
            error=error,
            now=self._store.now(),
        )

    def _headers(self, task: Task, body: bytes) -> dict[str, str]:
        secret = task.generation.webhook_secret
        scheme = self._settings.webhook_signature
        if not secret or scheme is WebhookSignature.NONE:
            return dict(CONTENT_TYPE)
        if scheme is WebhookSignature.HMAC_SHA256:
            digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            value = f"sha256={digest}"
        else:
            value = secret
        return {**CONTENT_TYPE, self._settings.webhook_signature_header: value}
