"""uvicorn's httptools protocol with the two limits it has no setting for.

A request head (request line and headers) larger than ``max_header_bytes`` is answered
431 and the connection closed (h11 has ``h11_max_incomplete_event_size``; httptools has
no limit at all); a connection that has not sent a whole head within
``header_timeout_seconds`` of opening, or of its previous answer, is closed (uvicorn's
keep-alive timeout stops at the first byte, so a slow head holds a connection forever).
Everything else is uvicorn's own.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

HEAD_TOO_LARGE = "Request Header Fields Too Large"
_HEAD_BODY = json.dumps({"detail": HEAD_TOO_LARGE}).encode()
_HEAD_HEADERS = (
    (b"content-type", b"application/json"),
    (b"content-length", str(len(_HEAD_BODY)).encode()),
    (b"connection", b"close"),
)
"""The 431's headers, written raw (a head too large to parse) or through uvicorn."""
_HEAD_RESPONSE = (
    b"HTTP/1.1 431 "
    + HEAD_TOO_LARGE.encode()
    + b"".join(b"\r\n" + name + b": " + value for name, value in _HEAD_HEADERS)
    + b"\r\n\r\n"
    + _HEAD_BODY
)
HEAD_LINE_OVERHEAD = 4
"""``: `` and CRLF around each header, counted as they travelled."""


class LimitedConfig(uvicorn.Config):
    """uvicorn's config, carrying the head limits to each protocol (and worker process)."""

    def __init__(
        self, app: Any, *, max_head_bytes: int, head_timeout: float, **options: Any
    ) -> None:
        super().__init__(app, http=GuardedHttpTools, **options)
        self.max_head_bytes = max_head_bytes
        self.head_timeout = head_timeout


async def _head_too_large(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 431, "headers": list(_HEAD_HEADERS)})
    await send({"type": "http.response.body", "body": _HEAD_BODY})


class GuardedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol, with the head size and time limits of ``LimitedConfig``."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.max_head_bytes: int | None = None
        self.head_timeout: float | None = None
        if isinstance(config, LimitedConfig):
            self.max_head_bytes, self.head_timeout = config.max_head_bytes, config.head_timeout
        self.head_bytes = 0
        self.in_head = False
        self.head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self.await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop_head_timer()
        super().connection_lost(exc)

    def await_head(self) -> None:
        """A request's head is due: give it the time it has."""
        self.stop_head_timer()
        if self.head_timeout is not None:
            self.head_timer = self.loop.call_later(self.head_timeout, self.head_late)

    def stop_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def head_late(self) -> None:
        self.head_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def on_message_begin(self) -> None:
        self.in_head, self.head_bytes = True, 0
        super().on_message_begin()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self.in_head:
            return
        # The chunk a head starts in is counted whole, though it may also hold the end
        # of the previous request's body: an overcount of one read at most.
        self.head_bytes += len(data)
        limit = self.max_head_bytes
        if limit is not None and self.head_bytes > limit and not self.transport.is_closing():
            self.stop_head_timer()
            self.transport.write(_HEAD_RESPONSE)
            self.transport.close()

    def on_headers_complete(self) -> None:
        self.in_head = False
        self.stop_head_timer()
        limit = self.max_head_bytes
        size = len(self.url) + sum(
            len(name) + len(value) + HEAD_LINE_OVERHEAD for name, value in self.headers
        )
        if limit is None or size <= limit:
            super().on_headers_complete()
            return
        # Answered through uvicorn's own request cycle, so the body that follows is
        # handled as for any other answer that does not read it.
        app, self.app = self.app, _head_too_large
        try:
            super().on_headers_complete()
        finally:
            self.app = app

    def on_response_complete(self) -> None:
        pipelined = bool(self.pipeline)
        super().on_response_complete()
        if not pipelined and not self.transport.is_closing():
            self.await_head()
