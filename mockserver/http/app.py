"""``create_app``: the one place that wires spec, validation, handlers, store and responses.

Routes are made from the spec's operations, and behave as FastAPI's do: one method
per route (no implicit HEAD), 404/405 as ``{"detail": ...}``, trailing-slash redirects.
Every request, accepted or not, is journaled with its verdict.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mockserver.clock import Clock, SystemClock
from mockserver.domain import scenarios
from mockserver.domain.drafts import DraftCodec
from mockserver.domain.endpoints import load_table
from mockserver.domain.lifecycle import Progression
from mockserver.domain.scenarios import DirectiveError
from mockserver.errors import SettingsError
from mockserver.http import handlers
from mockserver.http.admin import Control, admin_routes
from mockserver.http.inputs import InputReader, probe_video
from mockserver.http.routing import MockApp
from mockserver.http.webhooks import WebhookDispatcher
from mockserver.render import responses
from mockserver.render.images import ImageCache, ImageRequest, render
from mockserver.render.sample_urls import DELIVERY_ROUTE, SampleSigner
from mockserver.render.video import VideoCache
from mockserver.settings import MockSettings
from mockserver.spec import bundled
from mockserver.spec.models import ModelBuilder
from mockserver.spec.openapi import Operation, OperationKind, Spec, load_spec
from mockserver.spec.validation import Rejected, RequestValidator
from mockserver.state.store import Call, MemoryStore, TaskStore

if TYPE_CHECKING:
    from mockserver.spec.conformance import ResponseChecker

OPENAPI_ROUTE = "/openapi.json"
_NO_VALUES: Mapping[str, str] = {}
HEADER_PAIRS_KEPT = 4096
_BODY_HEADERS = frozenset({b"content-length", b"transfer-encoding"})
LOG = logging.getLogger("mockserver")
LOGGED_PATHS = 64
_WARM_UP_IMAGE = ImageRequest(prompt="", seed=0, width=32, height=32, output_format="jpeg")


class Journal:
    """Records each exchange in the store, checking the mock's answer in strict mode."""

    def __init__(self, store: TaskStore, checker: ResponseChecker | None) -> None:
        self._store = store
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
    ) -> None:
        scope = request.scope
        # A request without Content-Length or Transfer-Encoding has no body (RFC 9112
        # 6.3): most polls and downloads. Reading it would still wait on the server.
        body = await request.body() if _may_have_body(scope["headers"]) else b""
        response_body = bytes(response.body)
        response_problems: tuple[str, ...] = ()
        if self._checker is not None and operation is not None:
            response_problems = self._checker.problems(
                operation, response.status_code, response_body
            )
        # Read straight from the ASGI scope: request.url would build and re-split a
        # URL on every request just to give back the path and query uvicorn parsed.
        self._store.record(
            Call(
                at=self._store.now(),
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
            )
        )

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


class ElsewhereNotice:
    """Says which bundled spec has a path the served one lacks.

    In the journal, and once per path in the log; the answer stays BFL's own 404.
    """

    def __init__(self, served: object) -> None:
        self._served = served
        self._logged: set[str] = set()

    def explain(self, path: str, problem: str) -> str:
        names = bundled.which_has(path)
        if not names:
            return problem
        hint = (
            f"{problem}: the served spec has no {path}; bundled spec {' and '.join(names)} "
            f"has it (bfl-mock serve --spec {names[0]})"
        )
        if path not in self._logged and len(self._logged) < LOGGED_PATHS:
            self._logged.add(path)
            LOG.warning("bfl-mock: %s", hint)
        return hint


@functools.lru_cache(maxsize=4096)
def _query_params(query_string: bytes) -> QueryParams:
    """``request.query_params``, parsed once per distinct query (a task is polled often)."""
    return QueryParams(query_string)


def _may_have_body(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, _ in headers:  # a plain loop: a generator costs more than a few headers
        if name in _BODY_HEADERS:
            return True
    return False


def create_app(
    settings: MockSettings | None = None,
    *,
    store: TaskStore | None = None,
    clock: Clock | None = None,
    spec: Spec | None = None,
) -> Starlette:
    """Build the mock as an ASGI app. ``store`` and ``clock`` replace the defaults."""
    settings = settings or MockSettings()
    spec = spec or load_spec(settings.spec)
    clock = clock or SystemClock()
    try:
        default_scenario = scenarios.parse(settings.scenario)
    except DirectiveError as error:
        raise SettingsError(f"scenario: {error}") from None
    if store is None:
        store = MemoryStore(
            progression=Progression(
                settings.timing, settings.generation_seconds, settings.polls_until_ready
            ),
            starting_credits=settings.credits,
            clock=clock,
            seed=settings.seed,
            journal_limit=settings.journal_limit,
            scenario=default_scenario,
        )
    renderer = responses.Renderer(spec)
    behaviours = load_table(settings.endpoint_table)
    renderer.check_result_keys(behaviours)
    secrets = random.Random(settings.seed)
    signer = SampleSigner(secrets.randbytes(32))
    drafts = DraftCodec(secrets.randbytes(32))
    chance = random.Random(secrets.random())

    async def own_media(url: str) -> bytes | None:
        return await handlers.own_media(runtime, url)

    runtime = handlers.Runtime(
        spec=spec,
        settings=settings,
        store=store,
        renderer=renderer,
        behaviours=behaviours,
        images=ImageCache(settings.image_cache_bytes),
        videos=VideoCache(
            settings.video_cache_bytes,
            max_renders=settings.video_renders,
            timeout=settings.video_render_seconds,
        ),
        signer=signer,
        drafts=drafts,
        inputs=InputReader(settings, own_media, probe_video),
        webhooks=WebhookDispatcher(settings, store, renderer),
        chance=chance,
        task_id_param=spec.task_id_param,
    )
    control = Control(runtime)
    checker = None
    if settings.strict:
        # jsonschema takes a tenth of a second to import: only strict mode needs it.
        from mockserver.spec.conformance import ResponseChecker

        checker = ResponseChecker(spec)
    journal = Journal(store, checker)
    builder = ModelBuilder(spec)
    key_header = spec.api_key_header
    routes: list[BaseRoute] = []
    for operation in spec.operations:
        needs_key = operation.kind is OperationKind.RESULT and settings.require_key_on_poll
        validator = RequestValidator(
            operation,
            builder,
            accepted_keys=settings.api_keys,
            key_header=operation.api_key_header or (key_header if needs_key else None),
            tag_aliases=behaviours.for_path(operation.path).mode_aliases
            if operation.kind is OperationKind.GENERATION
            else {},
        )
        route = Route(
            operation.path,
            _operation_endpoint(runtime, journal, validator),
            methods=[operation.method],
        )
        route.methods = {operation.method}  # FastAPI adds no implicit HEAD
        routes.append(route)
    if settings.admin:
        routes.extend(admin_routes(control))
    routes.append(Route(OPENAPI_ROUTE, _plain_endpoint(runtime, journal, handlers.openapi)))
    routes.append(
        Route(
            DELIVERY_ROUTE,
            _plain_endpoint(runtime, journal, handlers.sample),
            methods=["GET", "HEAD"],
        )
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Load Pillow's codecs and font in a worker thread, so that the first real
        # render is fast, without holding up start-up: the first image is asked for
        # after a submit and a poll at the earliest.
        warm_up = asyncio.get_running_loop().run_in_executor(None, render, _WARM_UP_IMAGE)
        app.state.warm_up = warm_up
        yield
        await runtime.webhooks.close()
        runtime.videos.close()
        await warm_up

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        response = responses.detail(error.status_code, error.detail, error.headers)
        problem = str(error.detail)
        if error.status_code == 404:
            problem = elsewhere.explain(request.scope["path"], problem)
        await journal.record(request, response, operation=None, problems=(problem,))
        return response

    elsewhere = ElsewhereNotice(settings.spec)

    app = MockApp(routes=routes, exception_handlers={HTTPException: http_error}, lifespan=lifespan)
    app.state.runtime = runtime
    app.state.control = control
    return app


def _operation_endpoint(
    rt: handlers.Runtime, journal: Journal, validator: RequestValidator
) -> Callable[[Request], Awaitable[Response]]:
    operation = validator.operation
    handler = handlers.HANDLERS[operation.kind]
    framework_500s = rt.settings.framework_500s

    async def endpoint(request: Request) -> Response:
        body = None
        if validator.reads_body:
            body = validator.parse_body(await request.body(), request.headers.get("content-type"))
        outcome = body
        if not isinstance(body, Rejected):
            # Query string and cookies are parsed only for operations that declare them.
            outcome = validator.validate(
                body=body,
                query=_query_params(request.scope["query_string"])
                if "query" in validator.locations
                else _NO_VALUES,
                headers=request.headers,
                path_params=request.path_params,
                cookies=request.cookies if "cookie" in validator.locations else _NO_VALUES,
            )
        if isinstance(outcome, Rejected):
            response = responses.rejection(outcome, framework_500s=framework_500s)
            problems = outcome.describe()
            await journal.record(request, response, operation=operation, problems=problems)
            return response
        assert outcome is not None
        try:
            response = await handler(rt, operation, request, outcome)
        except DirectiveError as error:
            return await _unknown_directive(journal, request, error, operation)
        await journal.record(request, response, operation=operation)
        return response

    return endpoint


def _plain_endpoint(
    rt: handlers.Runtime,
    journal: Journal,
    handler: Callable[[handlers.Runtime, Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            response = await handler(rt, request)
        except DirectiveError as error:
            return await _unknown_directive(journal, request, error, None)
        await journal.record(request, response, operation=None)
        return response

    return endpoint


async def _unknown_directive(
    journal: Journal, request: Request, error: DirectiveError, operation: Operation | None
) -> Response:
    """400 for a scenario the mock does not know: a mistake in the test setup."""
    response = responses.detail(400, f"bfl-mock: {error}")
    await journal.record(request, response, operation=operation, problems=(str(error),))
    return response
