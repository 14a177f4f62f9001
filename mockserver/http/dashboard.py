"""The live dashboard at ``/_mock/``: a static page, and server-sent events feeding it.

The page (HTML, CSS and script in ``static/``, served from the package: no build step,
no CDN) opens ``/_mock/events``, which sends a snapshot of the mock whenever it
changed. A stream ends when its client leaves, when the server shuts down, and after
``STREAM_SECONDS`` at most (the page reconnects at once), so no server waits on it.
None of the dashboard's routes is journaled: its traffic is no client's.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.resources
import json
from collections.abc import AsyncIterator, Mapping

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from mockserver.http.admin import Control, secret_for, shown_call
from mockserver.http.admin_guard import Endpoint, admin_route
from mockserver.render.dashboard import (
    MEDIA_PATH,
    Lists,
    Query,
    QueryError,
    call_detail,
    find_call,
    snapshot,
)
from mockserver.render.wire import detail, json_response
from mockserver.spec.openapi import TaskStatus

LOOK_SECONDS = 0.5
"""How often a stream looks for changes: a task's stage follows the clock, unannounced."""
KEEP_ALIVE_SECONDS = 15.0
STREAM_SECONDS = 60.0
RETRY_MILLISECONDS = 500
EVENT_STREAM = "text/event-stream"
_STATIC = {
    "/": ("dashboard.html", "text/html; charset=utf-8"),
    "/dashboard.js": ("dashboard.js", "text/javascript; charset=utf-8"),
    "/dashboard.css": ("dashboard.css", "text/css; charset=utf-8"),
    "/favicon.svg": ("favicon.svg", "image/svg+xml"),
}


@functools.cache
def static_file(name: str) -> bytes:
    static = importlib.resources.files("mockserver.http").joinpath("static")
    return static.joinpath(name).read_bytes()


def dashboard_routes(
    control: Control, token: str | None, public_url: str | None
) -> list[BaseRoute]:
    def route(path: str, endpoint: Endpoint) -> Route:
        return admin_route(path, "GET", endpoint, token, public_url)

    def static(name: str, media_type: str) -> Endpoint:
        async def serve(request: Request) -> Response:
            return Response(static_file(name), media_type=media_type, headers=_NO_STORE)

        return serve

    async def events(request: Request) -> Response:
        try:
            query = Query.of(request.query_params, control.statuses.values())
        except QueryError as error:
            return detail(400, str(error))
        return StreamingResponse(
            snapshots(control, query, request), media_type=EVENT_STREAM, headers=_NO_STORE
        )

    async def call(request: Request) -> Response:
        found = find_call(await control.calls(), request.path_params["key"])
        if found is None:
            return detail(404, "no such request in the journal (only journal_limit are kept)")
        return json_response(shown_call(call_detail(found), secret_for(request, control)))

    async def media(request: Request) -> Response:
        task = await control.task(request.path_params["task_id"])
        if task is None:
            return detail(404, "no such task")
        file = await control.media(task)
        if file is None:
            return detail(404, "the task has no image or video: it is not Ready")
        headers = {"ETag": file.etag, "Cache-Control": "no-cache"}
        if request.headers.get("if-none-match") == file.etag:
            return Response(status_code=304, headers=headers)
        return Response(file.data, media_type=file.media_type, headers=headers)

    return [
        *(route(path, static(name, kind)) for path, (name, kind) in _STATIC.items()),
        route("/events", events),
        route("/calls/{key}", call),
        route(MEDIA_PATH, media),
    ]


_NO_STORE = {"Cache-Control": "no-store"}


def encoded(lists: Lists, spelling: Mapping[TaskStatus, str], query: Query) -> str:
    return json.dumps(snapshot(lists, spelling, query), separators=(",", ":"))


async def snapshots(control: Control, query: Query, request: Request) -> AsyncIterator[str]:
    """Server-sent events: a snapshot whenever one differs from the last one sent."""
    loop = asyncio.get_running_loop()
    closing = asyncio.ensure_future(control.closing.wait())
    ends = loop.time() + STREAM_SECONDS
    sent, quiet_since = "", loop.time()
    try:
        yield f"retry: {RETRY_MILLISECONDS}\n\n"
        while not closing.done() and loop.time() < ends and not await request.is_disconnected():
            lists = Lists(
                tasks=await control.tasks(),
                calls=await control.calls(),
                deliveries=await control.deliveries(),
                balances=await control.balances(),
                directives=await control.directives(),
            )
            # In a worker thread: searching a full journal takes some milliseconds.
            text = await asyncio.to_thread(encoded, lists, control.statuses, query)
            if text != sent:
                sent, quiet_since = text, loop.time()
                yield f"event: snapshot\ndata: {text}\n\n"
            elif loop.time() - quiet_since >= KEEP_ALIVE_SECONDS:
                quiet_since = loop.time()
                yield ": nothing new\n\n"
            # Not wait_for: on Python 3.11 it may swallow the cancellation of a client gone.
            await asyncio.wait((closing,), timeout=LOOK_SECONDS)
    finally:
        closing.cancel()
