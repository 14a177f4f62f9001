"""``create_app``: the one place that wires spec, validation, handlers, store and responses.

Routes are made from the spec's operations, and behave as FastAPI's do: one method
per route (no implicit HEAD), 404/405 as ``{"detail": ...}``, trailing-slash redirects.
Every request, accepted or not, is journaled with its verdict. A shared store that
stops answering gives 503 with Retry-After, nothing half-written.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mockserver.clock import Clock, SystemClock
from mockserver.domain import scenarios
from mockserver.domain.drafts import DraftCodec
from mockserver.domain.endpoints import load_table
from mockserver.domain.lifecycle import Progression
from mockserver.domain.scenarios import DirectiveError
from mockserver.errors import SettingsError
from mockserver.http import delivery, handlers
from mockserver.http.admin import Control, admin_routes
from mockserver.http.admin_guard import under_admin
from mockserver.http.dashboard import dashboard_routes
from mockserver.http.inputs import InputReader, probe_video
from mockserver.http.journal import Journal
from mockserver.http.limits import TOO_LARGE, BodyTooLarge
from mockserver.http.routing import ExceptionHandler, MockApp
from mockserver.http.runtime import DRAFTS, SIGNING, Runtime
from mockserver.render import bodies, fastapi_errors, wire
from mockserver.render.images import ImageCache, ImageRequest, render
from mockserver.render.sample_urls import DELIVERY_ROUTE, SampleSigner
from mockserver.render.video import VideoCache
from mockserver.settings import MEMORY_STORE, MockSettings
from mockserver.spec import bundled
from mockserver.spec.models import ModelBuilder
from mockserver.spec.openapi import Operation, OperationKind, Spec
from mockserver.spec.reading import load_spec
from mockserver.spec.validation import Rejected, RequestValidator
from mockserver.state.memory import MemoryStore
from mockserver.state.protocol import Store, StoreUnavailable
from mockserver.state.tasks import Tasks, seeded_secret

OPENAPI_ROUTE = "/openapi.json"
_NO_VALUES: Mapping[str, str] = {}
LOG = logging.getLogger("mockserver")
LOGGED_PATHS = 64
UNAVAILABLE = "Service Unavailable"
_WARM_UP_IMAGE = ImageRequest(prompt="", seed=0, width=32, height=32, output_format="jpeg")


def make_store(settings: MockSettings) -> Store:
    """The store ``settings.store`` names: this process's memory, or a Redis URL."""
    if settings.store == MEMORY_STORE:
        return MemoryStore(
            starting_credits=settings.credits,
            journal_limit=settings.journal_limit,
            task_limit=settings.task_limit,
            retention=settings.task_retention_seconds,
            journal_bytes=settings.journal_bytes,
        )
    from mockserver.state.redis_store import RedisStore, is_redis_url

    if not is_redis_url(settings.store):
        raise SettingsError(f"store must be 'memory' or a redis:// URL, not {settings.store!r}")
    return RedisStore(
        settings.store,
        starting_credits=settings.credits,
        journal_limit=settings.journal_limit,
        retention=settings.task_retention_seconds,
    )


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
def parsed_query(query_string: bytes) -> QueryParams:
    """``request.query_params``, parsed once per distinct query (a task is polled often)."""
    return QueryParams(query_string)


def create_app(
    settings: MockSettings | None = None,
    *,
    store: Store | None = None,
    clock: Clock | None = None,
    spec: Spec | None = None,
    renderer_class: type[bodies.Renderer] = bodies.Renderer,
    image_cache_class: type[ImageCache] = ImageCache,
) -> MockApp:
    """Build the mock as an ASGI app.

    ``store``, ``clock`` and ``spec`` replace the defaults; the classes replace the parts
    that write responses and images, for deliberately broken mocks (the contract tests').
    """
    settings = settings or MockSettings()
    spec = spec or load_spec(settings.spec)
    clock = clock or SystemClock()
    try:
        scenarios.parse(settings.scenario)
    except DirectiveError as error:
        raise SettingsError(f"scenario: {error}") from None
    store = store or make_store(settings)
    renderer = renderer_class(spec)
    behaviours = load_table(settings.endpoint_table)
    renderer.check_result_keys(behaviours)
    tasks = Tasks(
        store,
        clock,
        Progression(settings.timing, settings.generation_seconds, settings.polls_until_ready),
        max_active=settings.max_active_tasks,
        delivery_limit=settings.webhook_queue_limit,
        seed=settings.seed,
    )
    secrets = {name: seeded_secret(settings.seed, name) for name in (SIGNING, DRAFTS)}

    async def own_media(url: str) -> bytes | None:
        return await delivery.own_media(runtime, url)

    runtime = Runtime(
        spec=spec,
        settings=settings,
        clock=clock,
        store=store,
        tasks=tasks,
        renderer=renderer,
        behaviours=behaviours,
        images=image_cache_class(settings.image_cache_bytes),
        videos=VideoCache(
            settings.video_cache_bytes,
            max_renders=settings.video_renders,
            timeout=settings.video_render_seconds,
        ),
        signer=SampleSigner(secrets[SIGNING]),
        drafts=DraftCodec(secrets[DRAFTS]),
        inputs=InputReader(settings, own_media, probe_video),
        chance=random.Random(settings.seed),
        secrets=secrets,
    )
    control = Control(runtime)
    checker = None
    if settings.strict:
        # jsonschema takes a tenth of a second to import: only strict mode needs it.
        from mockserver.spec.conformance import ResponseChecker

        checker = ResponseChecker(spec)
    journal = Journal(store, clock, checker, settings.journal_body_bytes)
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
        routes.extend(admin_routes(control, settings.admin_token, settings.public_url))
    routes.append(Route(OPENAPI_ROUTE, _plain_endpoint(runtime, journal, handlers.openapi)))
    routes.append(
        Route(
            DELIVERY_ROUTE,
            _plain_endpoint(runtime, journal, delivery.sample),
            methods=["GET", "HEAD"],
        )
    )
    if settings.admin:
        # After the delivery route: a download, not a dashboard, is the hot path.
        routes.extend(dashboard_routes(control, settings.admin_token, settings.public_url))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Load Pillow's codecs and font in a worker thread, so that the first real
        # render is fast, without holding up start-up: the first image is asked for
        # after a submit and a poll at the earliest.
        warm_up = asyncio.get_running_loop().run_in_executor(None, render, _WARM_UP_IMAGE)
        await control.start()
        yield
        control.close_streams()
        await runtime.stop()
        await warm_up

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        response = wire.detail(error.status_code, error.detail, error.headers)
        problem = str(error.detail)
        if settings.admin and under_admin(request):
            # The dashboard's own traffic (a page's stray fetches) is no client's.
            return response
        if error.status_code == 404:
            problem = elsewhere.explain(request.scope["path"], problem)
        await journal.record(request, response, operation=None, problems=(problem,))
        return response

    async def store_unavailable(request: Request, error: Exception) -> Response:
        LOG.warning("bfl-mock: %s", error)
        headers = {"Retry-After": str(settings.retry_after_seconds)}
        return wire.detail(503, UNAVAILABLE, headers)

    async def too_large(request: Request, error: Exception) -> Response:
        response = wire.detail(413, TOO_LARGE)
        if not under_admin(request):  # admin calls are not API traffic
            await journal.record(
                request, response, operation=None, problems=(str(error),), body=b""
            )
        return response

    async def client_gone(request: Request, error: Exception) -> None:
        """A client that closed mid-upload is owed no answer, and its leaving is no error."""
        return None

    elsewhere = ElsewhereNotice(settings.spec)
    handlers_by_error: dict[Any, ExceptionHandler] = {
        HTTPException: http_error,
        StoreUnavailable: store_unavailable,
        ClientDisconnect: client_gone,
        BodyTooLarge: too_large,
    }
    app = MockApp(
        routes=routes,
        exception_handlers=handlers_by_error,
        lifespan=lifespan,
    )
    app.control = control
    app.max_body = settings.max_body_bytes
    return app


def _operation_endpoint(
    rt: Runtime, journal: Journal, validator: RequestValidator
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
                query=parsed_query(request.scope["query_string"])
                if "query" in validator.locations
                else _NO_VALUES,
                headers=request.headers,
                path_params=request.path_params,
                cookies=request.cookies if "cookie" in validator.locations else _NO_VALUES,
            )
        if isinstance(outcome, Rejected):
            response = fastapi_errors.rejection(outcome, framework_500s=framework_500s)
            problems = outcome.describe()
            await journal.record(request, response, operation=operation, problems=problems)
            return response
        assert outcome is not None
        if not rt.started:
            await rt.start()
        try:
            response = await handler(rt, operation, request, outcome)
        except DirectiveError as error:
            return await _unknown_directive(journal, request, error, operation)
        await journal.record(request, response, operation=operation)
        return response

    return endpoint


def _plain_endpoint(
    rt: Runtime,
    journal: Journal,
    handler: Callable[[Runtime, Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        if not rt.started:
            await rt.start()
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
    response = wire.detail(400, f"bfl-mock: {error}")
    await journal.record(request, response, operation=operation, problems=(str(error),))
    return response
