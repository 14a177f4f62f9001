"""Injected faults' replies: an error status as the real stack gives it, a slow or cut reply."""

from __future__ import annotations

import asyncio
from http import HTTPStatus

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from mockserver.render.fastapi_errors import internal_error
from mockserver.render.wire import detail

INSUFFICIENT_CREDITS = "Insufficient credits"
TOO_MANY_TASKS = "Too many active tasks"
FAULT_DETAILS = {402: INSUFFICIENT_CREDITS, 429: TOO_MANY_TASKS}
RETRY_STATUSES = frozenset({429, 503})


def fault(status_code: int, *, retry_after: int) -> Response:
    """An injected HTTP failure, in the shape the real stack gives each status."""
    if status_code == 500:
        return internal_error()  # what FastAPI/Starlette send for an unhandled error
    headers = {"Retry-After": str(retry_after)} if status_code in RETRY_STATUSES else None
    text = FAULT_DETAILS.get(status_code) or HTTPStatus(status_code).phrase
    return detail(status_code, text, headers)


class ConnectionDropped(Exception):
    """Raised on purpose to cut a response off half-way (the ``drop`` directive)."""


SLOW_CHUNKS = 10


class ShapedResponse(Response):
    """An already rendered response, sent slowly and/or cut off half-way."""

    def __init__(self, inner: Response, *, slow: float | None, drop: bool) -> None:
        super().__init__(bytes(inner.body), inner.status_code)
        self.raw_headers = list(inner.raw_headers)
        self._slow = slow or 0.0
        self._drop = drop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        body = bytes(self.body)
        if self._drop:
            await send(
                {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
            )
            raise ConnectionDropped("bfl-mock dropped the connection on purpose (drop directive)")
        step = max(1, -(-len(body) // SLOW_CHUNKS))
        for start in range(0, len(body), step):
            await asyncio.sleep(self._slow / SLOW_CHUNKS)
            await send(
                {
                    "type": "http.response.body",
                    "body": body[start : start + step],
                    "more_body": True,
                }
            )
        await send({"type": "http.response.body", "body": b""})
