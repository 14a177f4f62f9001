"""Who may use the admin API: a bearer token, writes from the mock's own origin only.

With ``admin_token`` set, every ``/_mock`` request (the dashboard too) needs
``Authorization: Bearer <token>``. Whether or not it is set, a write (PUT, POST,
DELETE) carrying a foreign ``Origin`` is refused, and so is a POST with a content type
a browser sends cross-origin without asking first: a web page a tester happens to open
cannot reset or steer the mock.
"""

from __future__ import annotations

import hmac
import re
import urllib.parse
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from mockserver.render.responses import detail

Endpoint = Callable[[Request], Awaitable[Response]]
NOT_AUTHENTICATED = "Not authenticated"
FOREIGN_ORIGIN = "bfl-mock: admin writes are refused from another origin"
SIMPLE_TYPE = "bfl-mock: admin POSTs take no form or text/plain body"
WRITES = frozenset({"PUT", "POST", "DELETE"})
SIMPLE_TYPES = ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data")
"""The content types of a cross-origin POST that needs no CORS preflight."""
MASK = "***"
SECRET_FIELD = re.compile(r'("webhook_secret"\s*:\s*)"(?:[^"\\]|\\.)*"')
REVEAL = "reveal"


def guarded(endpoint: Endpoint, token: str | None, public_url: str | None) -> Endpoint:
    """``endpoint``, answering 401 without the token and 403/415 to cross-origin writes."""
    own_origin = _host(public_url) if public_url else None

    async def checked(request: Request) -> Response:
        if token is not None and not _authorised(request, token):
            return detail(401, NOT_AUTHENTICATED, {"WWW-Authenticate": "Bearer"})
        if request.method in WRITES:
            origin = request.headers.get("origin")
            if origin is not None and _host(origin) not in (
                request.headers.get("host", "").lower(),
                own_origin,
            ):
                return detail(403, FOREIGN_ORIGIN)
            media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if request.method == "POST" and media_type in SIMPLE_TYPES:
                return detail(415, SIMPLE_TYPE)
        return await endpoint(request)

    return checked


def _authorised(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


def _host(origin: str) -> str:
    """``host[:port]`` of an origin, as a Host header names it (``null`` gives "")."""
    return urllib.parse.urlsplit(origin).netloc.lower()


def revealed(request: Request) -> bool:
    """Whether the caller asked to see keys and secrets (``?reveal=1``)."""
    return request.query_params.get(REVEAL, "").lower() in ("1", "true", "yes")


def masked_headers(headers: tuple[tuple[str, str], ...], secret: frozenset[str]) -> dict[str, str]:
    return {name: MASK if name.lower() in secret else value for name, value in headers}


def masked_body(text: str) -> str:
    """A request body with its ``webhook_secret`` value replaced (cut bodies too)."""
    return SECRET_FIELD.sub(rf'\1"{MASK}"', text) if "webhook_secret" in text else text
