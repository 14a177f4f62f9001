"""The journal: every exchange, with its verdict, kept in the store.

In strict mode the mock's own answer is checked against the spec here too.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from mockserver.clock import Clock
from mockserver.spec.openapi import Operation
from mockserver.state.protocol import Store, StoreUnavailable
from mockserver.state.records import Call

if TYPE_CHECKING:
    from mockserver.spec.conformance import ResponseChecker

HEADER_PAIRS_KEPT = 4096
_BODY_HEADERS = frozenset({b"content-length", b"transfer-encoding"})
KEPT_MEDIA = (b"application/json", b"text/", b"application/xml")
"""Response bodies of these types are kept (cut to the limit); media never are."""
BODY, RESPONSE_BODY = "body", "response_body"


class Journal:
    """Records each exchange in the store, checking the mock's answer in strict mode."""

    def __init__(
        self, store: Store, clock: Clock, checker: ResponseChecker | None, body_limit: int
    ) -> None:
        self._store = store
        self._body_limit = body_limit
        self._clock = clock
        self._checker = checker
        # Decoded header pairs, shared by every entry that has them: clients send the
        # same few headers over and over, and an entry with its own copies of them
        # would cost a dozen objects to build and, when the journal drops it, to free.
        self._header_pairs: dict[tuple[bytes, bytes], tuple[str, str]] = {}

    async def record(
        self,
        request: Request,
        response: Response,
        *,
        operation: Operation | None,
        problems: tuple[str, ...] = (),
        body: bytes | None = None,
    ) -> None:
        """Journal an exchange; ``body`` is the request's, when it was not (fully) read."""
        scope = request.scope
        if body is None:
            # A request without Content-Length or Transfer-Encoding has no body (RFC 9112
            # 6.3): most polls and downloads. Reading it would still wait on the server.
            body = await request.body() if _may_have_body(scope["headers"]) else b""
        response_body = bytes(response.body)
        response_problems: tuple[str, ...] = ()
        if self._checker is not None and operation is not None:
            response_problems = self._checker.problems(
                operation, response.status_code, response_body
            )
        truncated: tuple[str, ...] = ()
        limit = self._body_limit
        if len(body) > limit:
            body, truncated = body[:limit], (BODY,)
        if response_body and not _kept(response.raw_headers):
            response_body, truncated = b"", (*truncated, RESPONSE_BODY)
        elif len(response_body) > limit:
            response_body, truncated = response_body[:limit], (*truncated, RESPONSE_BODY)
        # Read straight from the ASGI scope: request.url would build and re-split a
        # URL on every request just to give back the path and query uvicorn parsed.
        call = Call(
            at=self._clock.now(),
            method=scope["method"],
            path=scope["path"],
            query=scope["query_string"].decode("utf-8", "replace"),
            headers=self._headers(scope["headers"]),
            body=body,
            status=response.status_code,
            response_body=response_body,
            operation_id=operation.operation_id if operation else None,
            problems=problems,
            response_problems=response_problems,
            truncated=truncated,
        )
        with contextlib.suppress(StoreUnavailable):  # the answer already says the store is lost
            await self._store.record_call(call)

    def _headers(self, raw: list[tuple[bytes, bytes]]) -> tuple[tuple[str, str], ...]:
        """The headers as ``request.headers.items()`` gives them (latin-1), shared."""
        pairs = self._header_pairs
        if len(pairs) > HEADER_PAIRS_KEPT:
            pairs.clear()
        decoded = []
        for name, value in raw:
            key = (name, value)  # a tuple even where a server sends [name, value] lists
            known = pairs.get(key)
            if known is None:
                known = pairs[key] = (name.decode("latin-1"), value.decode("latin-1"))
            decoded.append(known)
        return tuple(decoded)


def _may_have_body(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, _ in headers:  # a plain loop: a generator costs more than a few headers
        if name in _BODY_HEADERS:
            return True
    return False


def _kept(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a response's body is text the journal keeps (not a downloaded file)."""
    for name, value in headers:
        if name == b"content-type":
            return value.startswith(KEPT_MEDIA)
    return True
