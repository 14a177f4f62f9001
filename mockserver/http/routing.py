"""``MockApp``: Starlette, with a direct path from the server to the endpoints.

Starlette hands every request through two middlewares, a router and two exception
wrappers before the endpoint runs. For a mock whose own work per poll is a few
microseconds, that stack was a quarter of the time of a request (README, "Speed").
``MockApp`` looks a request's method and path up in a dict of the constant-path
routes, or else tries the routes with path parameters in order, and calls the
endpoint directly, with the outcome Starlette would give it:

- the route Starlette's router would pick (a constant path is looked up only when no
  earlier route could match it, so route order still decides);
- an exception a registered handler takes is answered by that handler; any other
  gives Starlette's plain ``500 Internal Server Error`` and is re-raised, for the
  server to log, as ``ServerErrorMiddleware`` does;
- everything else (no route matches: 404, 405, slash redirects; a ``root_path``,
  user middleware, debug mode, a catch-all error handler, a route that is not an
  async ``Route``) goes through Starlette unchanged.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Receive, Scope, Send

from mockserver.http.limits import limited
from mockserver.render.fastapi_errors import internal_error

if TYPE_CHECKING:
    from mockserver.http.admin import Control

Endpoint = Callable[[Request], Awaitable[Response]]
ExceptionHandler = Callable[[Request, Exception], Any]


class MockApp(Starlette):
    control: Control
    """Steers the mock from Python (async): scenario, journal, tasks, credits, reset."""
    max_body: int | None = None
    """Largest request body (``BodyTooLarge`` past it), or no limit."""
    _constant: dict[tuple[str, str], Endpoint] | None = None
    _parametrised: list[Route] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.max_body is not None and scope["type"] == "http":
            receive = limited(scope, receive, self.max_body)
        if scope["type"] == "http" and not scope.get("root_path"):
            if self._constant is None:
                self._constant, self._parametrised = self.direct_routes()
            endpoint = self._constant.get((scope["method"], scope["path"]))
            if endpoint is not None:
                await self._serve(endpoint, {}, scope, receive, send)
                return
            for route in self._parametrised:
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    await self._serve(route.endpoint, child_scope, scope, receive, send)
                    return
        await super().__call__(scope, receive, send)

    def direct_routes(self) -> tuple[dict[tuple[str, str], Endpoint], list[Route]]:
        """The routes served directly: by (method, path), and those with path parameters.

        A constant path is looked up only if no earlier route could match it; routes
        with parameters are tried in order, up to the first route of another kind.
        """
        constant: dict[tuple[str, str], Endpoint] = {}
        parametrised: list[Route] = []
        if self.debug or self.user_middleware or self._has_catch_all_handler():
            return constant, parametrised
        earlier: list[BaseRoute] = []
        for route in self.router.routes:
            if not (isinstance(route, Route) and route.methods and _is_async(route.endpoint)):
                break
            if route.param_convertors:
                parametrised.append(route)
            elif not any(_could_match(other, route.path) for other in earlier):
                for method in route.methods:
                    constant.setdefault((method, route.path), route.endpoint)
            earlier.append(route)
        return constant, parametrised

    def _has_catch_all_handler(self) -> bool:
        # Handlers by status code, or for every exception, live in Starlette's middleware.
        return any(key is Exception or isinstance(key, int) for key in self.exception_handlers)

    async def _serve(
        self,
        endpoint: Endpoint,
        child_scope: Mapping[str, Any],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        # What Starlette's app and router put in the scope on the way.
        scope["app"] = self
        scope.setdefault("router", self.router)
        if child_scope:
            scope.update(child_scope)
        else:
            scope["endpoint"] = endpoint
            scope.setdefault("path_params", {})
        request = Request(scope, receive, send)
        response: Response | None
        try:
            response = await endpoint(request)
        except Exception as error:
            handler = self._handler_for(error)
            if handler is None:
                await internal_error()(scope, receive, send)
                raise
            if _is_async(handler):
                response = await handler(request, error)
            else:
                response = await run_in_threadpool(handler, request, error)
            if response is None:
                return
        await response(scope, receive, send)

    def _handler_for(self, error: Exception) -> ExceptionHandler | None:
        """The registered handler Starlette's ExceptionMiddleware would pick, if any."""
        for cls in type(error).__mro__:
            handler = self.exception_handlers.get(cls)
            if handler is not None:
                return handler  # type: ignore[no-any-return]
        return None


def _could_match(route: BaseRoute, path: str) -> bool:
    regex = getattr(route, "path_regex", None)
    return regex is None or regex.match(path) is not None


def _is_async(function: Any) -> bool:
    """Whether calling ``function`` gives a coroutine (Starlette runs the others in threads)."""
    while isinstance(function, functools.partial):
        function = function.func
    return inspect.iscoroutinefunction(function) or (
        callable(function) and inspect.iscoroutinefunction(type(function).__call__)
    )
