"""Control of a running mock: scenarios, journal, tasks, webhooks, credits, reset.

The same ``Control`` backs the admin HTTP API under ``/_mock`` (for clients in any
language; off with ``admin=False``) and the Python API of ``MockServer`` and the pytest
fixture, so every way of steering the mock shares one implementation.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from mockserver.domain import scenarios
from mockserver.domain.scenarios import DirectiveError, Scenario
from mockserver.http.admin_bodies import (
    CREDITS_SHAPE,
    DIRECTIVES_SHAPE,
    CreditsBody,
    DirectivesBody,
    problem,
)
from mockserver.http.admin_guard import Endpoint, admin_route, masked, masked_body, revealed
from mockserver.http.delivery import delivered
from mockserver.http.runtime import Runtime
from mockserver.render.azure import Delivered
from mockserver.render.dashboard import call_entry
from mockserver.render.sample_urls import SAMPLE_STEM
from mockserver.render.wire import JSON, detail, encode_json_safely, json_response
from mockserver.spec.openapi import TaskStatus
from mockserver.state.records import Call, Delivery, Task, filter_calls

WAIT_LOOK_SECONDS = 0.25
JOURNAL_CHUNK_BYTES = 256 * 1024


class Control:
    """Steers a mock (async): the admin API and ``MockServer`` are both made of it."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self.loop: asyncio.AbstractEventLoop | None = None
        """The loop the app serves on, for callers in other threads (``MockServer``)."""
        self._closing: asyncio.Event | None = None
        names = {runtime.spec.api_key_header, runtime.settings.webhook_signature_header}
        names |= {"authorization", "proxy-authorization", "cookie"}
        self.secret_headers = frozenset(name.lower() for name in names if name)
        """Headers carrying keys and secrets, masked in the admin views unless revealed."""

    async def start(self) -> None:
        """Start serving (the app's lifespan): the store, and the webhook worker."""
        self.loop = asyncio.get_running_loop()
        self._closing = None  # served again after a shutdown: streams may run again
        await self._rt.start()
        # Deliveries queued before (a restart on a shared store) are taken up at once.
        self._rt.webhooks.start()

    async def set_scenario(self, directives: str) -> Scenario:
        """Apply ``directives`` to every request until reset (raises ``DirectiveError``)."""
        scenario = scenarios.parse(directives)
        await self._rt.start()
        await self._rt.store.set_scenario(directives)
        return scenario

    async def clear_scenario(self) -> None:
        await self._rt.start()
        await self._rt.store.set_scenario("")

    async def scenario(self) -> Scenario:
        await self._rt.start()
        return scenarios.parsed(await self._rt.store.scenario())

    async def calls(
        self, *, path: str | None = None, status: int | None = None, verdict: str | None = None
    ) -> tuple[Call, ...]:
        await self._rt.start()
        calls = tuple(await self._rt.store.calls())
        return filter_calls(calls, path=path, status=status, verdict=verdict)

    async def tasks(self) -> tuple[Task, ...]:
        await self._rt.start()
        return tuple(await self._rt.tasks.recent(self._rt.settings.task_limit))

    async def deliveries(self) -> tuple[Delivery, ...]:
        await self._rt.start()
        return tuple(await self._rt.store.deliveries())

    async def wait_for_deliveries(
        self, count: int = 1, timeout: float = 5.0
    ) -> tuple[Delivery, ...]:
        """Wait until ``count`` webhooks are delivered, skipped or given up.

        Returns those finished so far when ``timeout`` runs out.
        """
        await self._rt.start()
        finished: tuple[Delivery, ...] = ()
        deadline = time.monotonic() + timeout
        while True:
            finished = tuple(d for d in await self._rt.store.deliveries() if d.done)
            left = deadline - time.monotonic()
            if len(finished) >= count or left <= 0:
                return finished
            # Woken by each delivery this process makes; another process's are seen
            # at the next look (a shared store).
            await self._rt.webhooks.changed(min(left, WAIT_LOOK_SECONDS))

    async def set_credits(self, api_key: str, credits: float) -> None:
        """Set a key's balance (a ``pydantic.ValidationError`` unless finite and >= 0)."""
        body = CreditsBody(api_key=api_key, credits=credits)
        await self._rt.start()
        await self._rt.store.set_balance(body.api_key, body.credits, self._rt.clock.now())

    async def balances(self) -> dict[str, float]:
        await self._rt.start()
        return await self._rt.store.balances()

    async def reset(self) -> None:
        """Forget tasks, balances, the journal and deliveries; back to the set scenario."""
        await self._rt.start()
        await self._rt.store.reset()
        await self._rt.store.set_scenario(self._rt.settings.scenario)
        self._rt.poll_windows.reset()

    async def directives(self) -> str:
        """The server-wide scenario as the directives it was set with."""
        await self._rt.start()
        return await self._rt.store.scenario()

    async def task(self, task_id: str) -> Task | None:
        """One task as of now (looking counts no poll)."""
        await self._rt.start()
        return await self._rt.tasks.look(task_id)

    async def media(self, task: Task) -> Delivered | None:
        """A Ready task's image or video, as its delivery URL serves it (no signature)."""
        if task.status is not TaskStatus.READY:
            return None
        extension = task.generation.output_format
        return await delivered(self._rt, task, f"{SAMPLE_STEM}.{extension}")

    @property
    def statuses(self) -> Mapping[TaskStatus, str]:
        """Each status as the served spec spells it (``Content Moderated``)."""
        return self._rt.spec.statuses

    @property
    def closing(self) -> asyncio.Event:
        """Set when the server shuts down: long answers (the dashboard's events) end."""
        if self._closing is None:
            self._closing = asyncio.Event()
        return self._closing

    def close_streams(self) -> None:
        """End every long answer now (called on the serving loop as shutdown begins)."""
        self.closing.set()

    async def sample_url(self, task: Task, origin: str = "") -> str | None:
        """A signed URL of a Ready task's image (relative unless ``origin`` is given)."""
        if task.status is not TaskStatus.READY:
            return None
        server = await self.scenario()
        return self._rt.results.sample_result(task, origin, server).sample


def secret_for(request: Request, control: Control) -> frozenset[str]:
    """The headers whose values this request is shown masked: none if it asked to see them."""
    return frozenset() if revealed(request) else control.secret_headers


def admin_routes(control: Control, token: str | None, public_url: str | None) -> list[BaseRoute]:
    def route(path: str, method: str, endpoint: Endpoint) -> Route:
        return admin_route(path, method, endpoint, token, public_url)

    async def journal(request: Request) -> Response:
        query = request.query_params
        try:
            status = int(query["status"]) if "status" in query else None
            limit = int(query["limit"]) if "limit" in query else None
        except ValueError:
            return detail(400, "status and limit must be integers")
        if limit is not None and limit < 0:
            return detail(400, "limit must not be negative")
        calls = await control.calls(
            path=query.get("path"), status=status, verdict=query.get("verdict")
        )
        if limit is not None:
            calls = calls[max(0, len(calls) - limit) :]
        return StreamingResponse(_json_array(calls, secret_for(request, control)), media_type=JSON)

    async def tasks(request: Request) -> Response:
        return json_response([_task_json(task) for task in await control.tasks()])

    async def webhooks(request: Request) -> Response:
        secret = secret_for(request, control)
        deliveries = await control.deliveries()
        return json_response([_delivery_json(delivery, secret) for delivery in deliveries])

    async def get_scenario(request: Request) -> Response:
        return json_response(_scenario_json(await control.scenario()))

    async def put_scenario(request: Request) -> Response:
        text = (await request.body()).decode(errors="replace")
        try:
            directives = _directives(text)
        except ValidationError as error:
            return detail(400, problem(error, DIRECTIVES_SHAPE))
        try:
            scenario = await control.set_scenario(directives)
        except DirectiveError as error:
            return detail(400, str(error))
        return json_response(_scenario_json(scenario))

    async def delete_scenario(request: Request) -> Response:
        await control.clear_scenario()
        return json_response(_scenario_json(await control.scenario()))

    async def put_credits(request: Request) -> Response:
        try:
            body = CreditsBody.model_validate_json(await request.body())
        except ValidationError as error:
            return detail(400, problem(error, CREDITS_SHAPE))
        await control.set_credits(body.api_key, body.credits)
        return json_response({"api_key": body.api_key, "credits": body.credits})

    async def reset(request: Request) -> Response:
        await control.reset()
        return Response(status_code=204)

    return [
        route("/journal", "GET", journal),
        route("/tasks", "GET", tasks),
        route("/webhooks", "GET", webhooks),
        route("/scenario", "GET", get_scenario),
        route("/scenario", "PUT", put_scenario),
        route("/scenario", "DELETE", delete_scenario),
        route("/credits", "PUT", put_credits),
        route("/reset", "POST", reset),
    ]


def _directives(text: str) -> str:
    """Directives sent as plain text, or as ``{"directives": "..."}``."""
    stripped = text.strip()
    if stripped.startswith("{"):
        return DirectivesBody.model_validate_json(stripped).directives
    return stripped


async def _json_array(calls: tuple[Call, ...], secret: frozenset[str]) -> AsyncIterator[bytes]:
    """The journal as a JSON array, sent a few entries at a time.

    A large journal costs no copy of itself as one text, and other requests are
    answered between the pieces.
    """
    pieces, size = [b"["], 1
    for number, call in enumerate(calls):
        piece = encode_json_safely(_call_json(call, secret))
        pieces.append(b"," + piece if number else piece)
        size += len(piece) + 1
        if size >= JOURNAL_CHUNK_BYTES:
            yield b"".join(pieces)
            pieces, size = [], 0
            await asyncio.sleep(0)  # sending need not wait: let other requests in
    pieces.append(b"]")
    yield b"".join(pieces)


def shown_call(entry: dict[str, Any], secret: frozenset[str]) -> dict[str, Any]:
    """``entry`` (a ``call_entry``) with ``secret`` headers and webhook secrets masked.

    No ``secret`` (the caller asked to see them) masks nothing.
    """
    entry["headers"] = masked(entry["headers"], secret)
    if secret:
        entry["body"] = masked_body(entry["body"])
    return entry


def _call_json(call: Call, secret: frozenset[str]) -> dict[str, Any]:
    entry = shown_call(call_entry(call), secret)
    entry["headers"] = dict(entry["headers"])
    return entry


def _task_json(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "endpoint": task.generation.endpoint,
        "status": task.status.name,
        "outcome": task.outcome.status.name,
        "polls": task.polls,
        "seed": task.seed,
        "width": task.generation.width,
        "height": task.generation.height,
        "output_format": task.generation.output_format,
        "created_at": task.created_at,
        "finished_at": task.finished_at,
    }


def _delivery_json(delivery: Delivery, secret: frozenset[str]) -> dict[str, Any]:
    return {
        "task_id": delivery.task_id,
        "url": delivery.url,
        "delivered": delivery.delivered,
        "skipped": delivery.skipped,
        "note": delivery.note,
        "attempts": [dataclasses.asdict(attempt) for attempt in delivery.attempts],
        "headers": dict(masked(delivery.headers, secret)),
        "body": delivery.body.decode(),
    }


def _scenario_json(scenario: Scenario) -> dict[str, Any]:
    faults = {
        target.value: {k: v for k, v in dataclasses.asdict(fault).items() if v is not None}
        for target, fault in scenario.faults.items()
    }
    return {
        "outcome": scenario.outcome.name if scenario.outcome else None,
        "detail": list(scenario.detail) if scenario.detail else None,
        "faults": {target: fault for target, fault in sorted(faults.items()) if fault},
        "expired": bool(scenario.expired),
        "webhook_lost": bool(scenario.webhook_lost),
    }
