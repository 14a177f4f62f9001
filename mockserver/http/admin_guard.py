"""Who may use the admin API: a bearer token, writes from the mock's own origin only.

With ``admin_token`` set, every ``/_mock`` request (the dashboard too) needs
``Authorization: Bearer <token>``; a browser opens the dashboard at ``/_mock/?token=``,
which leaves a same-site, HTTP-only cookie for the page's own requests. Whether or not
it is set, a write (PUT, POST, DELETE) carrying a foreign ``Origin`` is refused, and so
is a POST with a content type a browser sends cross-origin without asking first: a web
page a tester happens to open cannot reset or steer the mock.
"""

from __future__ import annotations

import hmac
import re
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockserver.render.dashboard import ADMIN_ROOT
from mockserver.render.wire import detail
from mockserver.settings import TRUE_WORDS

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
TOKEN_PARAM = "token"
COOKIE = "bfl_mock_admin"


def under_admin(request: Request) -> bool:
    """Whether ``request`` is for the admin API or the dashboard (not a client's traffic)."""
    path: str = request.scope["path"]
    return path.startswith(ADMIN_ROOT + "/")


def admin_route(
    path: str, method: str, endpoint: Endpoint, token: str | None, public_url: str | None
) -> Route:
    """``endpoint`` at ``ADMIN_ROOT + path``, ``guarded``, answering ``method`` only."""
    made = Route(ADMIN_ROOT + path, guarded(endpoint, token, public_url), methods=[method])
    # Starlette adds HEAD to a GET route: the admin API answers the one method it names.
    made.methods = {method}
    return made


def guarded(endpoint: Endpoint, token: str | None, public_url: str | None) -> Endpoint:
    """``endpoint``, answering 401 without the token and 403/415 to cross-origin writes."""
    own_origin = _host(public_url) if public_url else None

    async def checked(request: Request) -> Response:
        by_query = False
        if token is not None and not _authorised(request, token):
            by_query = _token_in_query(request, token)
            if not by_query:
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
        response = await endpoint(request)
        if by_query:
            # The page's own requests (its event stream, its fetches) carry the cookie.
            response.set_cookie(
                COOKIE, token or "", path=ADMIN_ROOT, httponly=True, samesite="strict"
            )
        return response

    return checked


def _authorised(request: Request, token: str) -> bool:
    """The bearer token in the Authorization header, or the dashboard's cookie."""
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return _same(given.strip(), token)
    return COOKIE in request.cookies and _same(request.cookies[COOKIE], token)


def _token_in_query(request: Request, token: str) -> bool:
    """``?token=`` on a GET: how a browser opens the dashboard (it cannot set a header)."""
    given = request.query_params.get(TOKEN_PARAM)
    return request.method == "GET" and given is not None and _same(given, token)


def _same(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode(), token.encode())


def _host(origin: str) -> str:
    """``host[:port]`` of an origin, as a Host header names it (``null`` gives "")."""
    return urllib.parse.urlsplit(origin).netloc.lower()


def revealed(request: Request) -> bool:
    """Whether the caller asked to see keys and secrets (``?reveal=1``)."""
    return request.query_params.get(REVEAL, "").lower() in TRUE_WORDS


def masked(pairs: Iterable[tuple[str, str]], secret: frozenset[str]) -> list[tuple[str, str]]:
    """Header pairs with the values of ``secret`` names (lower case) masked."""
    return [(name, MASK if name.lower() in secret else value) for name, value in pairs]


def masked_body(text: str) -> str:
    """A request body with its ``webhook_secret`` value replaced (cut bodies too)."""
    return SECRET_FIELD.sub(rf'\1"{MASK}"', text) if "webhook_secret" in text else text
