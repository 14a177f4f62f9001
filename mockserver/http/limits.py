"""The request body limit: a larger body is refused before it is read.

Or as soon as it passes the limit, when chunked: a flood of large bodies costs no
memory beyond the limit each.
"""

from __future__ import annotations

from starlette.types import Message, Receive, Scope

TOO_LARGE = "Request body too large"


class BodyTooLarge(Exception):
    """The body is larger than ``max_body_bytes`` (the app answers 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"{TOO_LARGE}: the limit is {limit} bytes (max_body_bytes)")


def limited(scope: Scope, receive: Receive, limit: int) -> Receive:
    """``receive``, raising ``BodyTooLarge`` once the body is known to pass ``limit``.

    A declared Content-Length is checked before anything is read (the server holds a
    body to its Content-Length); a chunked body is counted as it arrives. A request with
    neither has no body, and keeps its own ``receive``.
    """
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            if value.isdigit() and int(value) > limit:
                return _refuse(limit)
            return receive
        if name == b"transfer-encoding":
            chunked = True
    if not chunked:
        return receive
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise BodyTooLarge(limit)
        return message

    return counted


def _refuse(limit: int) -> Receive:
    async def refuse() -> Message:
        raise BodyTooLarge(limit)

    return refuse
