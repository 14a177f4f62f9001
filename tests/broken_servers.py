"""Deliberately broken servers: the mock with one thing wrong each, for the server check to catch.

Each is ``create_app(...)`` plus one override, so anything the check reports is that
override and nothing else.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockserver.http.app import create_app
from mockserver.http.routing import MockApp
from mockserver.render.images import ImageCache, ImageRequest, RenderedImage
from mockserver.render.responses import Renderer, json_response
from mockserver.settings import MockSettings, Timing
from mockserver.spec.openapi import TaskStatus

KEY = "contract-key"


def settings() -> MockSettings:
    # The server check floods one key with submits it never polls: lift the credit and
    # active-task limits (their 402s and 429s are accepted, but would cut lifecycles short).
    return MockSettings(
        timing=Timing.POLLS,
        polls_until_ready=2,
        seed=0,
        api_keys=frozenset({KEY}),
        credits=1e15,
        max_active_tasks=10**9,
    )


def mock() -> MockApp:
    """The mock as it is: the server check must pass it."""
    return create_app(settings())


def wrong_422_shape() -> Starlette:
    """Validation errors in a home-made shape: ``{"errors": [{"field", "message"}]}``."""
    app = mock()

    def reshape(body: Any) -> Any:
        return {
            "errors": [
                {"field": ".".join(map(str, error["loc"][1:])), "message": error["msg"]}
                for error in body["detail"]
            ]
        }

    app.add_middleware(RewriteJson, status=422, rewrite=reshape)
    return app


def wrong_status_code() -> Starlette:
    """Validation errors answered 400 instead of 422 (same body)."""
    app = mock()
    app.add_middleware(RewriteJson, status=422, new_status=400)
    return app


class WithoutPollingUrl(Renderer):
    def submitted(self, **kwargs: Any) -> Response:
        response = super().submitted(**kwargs)
        body = json.loads(bytes(response.body))
        body.pop("polling_url", None)
        return json_response(body, response.status_code)


def missing_required_field() -> Starlette:
    """A submit answered without ``polling_url``."""
    return create_app(settings(), renderer_class=WithoutPollingUrl)


class AlwaysPending(Renderer):
    def task(self, **kwargs: Any) -> Response:
        if kwargs["status"] is not TaskStatus.TASK_NOT_FOUND:
            kwargs.update(status=TaskStatus.PENDING, result=None, details=None, progress=0.5)
        return super().task(**kwargs)


def endless_lifecycle() -> Starlette:
    """A task that says Pending for ever."""
    return create_app(settings(), renderer_class=AlwaysPending)


class NarrowerImages(ImageCache):
    async def get(self, request: ImageRequest) -> RenderedImage:
        return await super().get(dataclasses.replace(request, width=max(32, request.width // 2)))


def wrong_image_size() -> Starlette:
    """Samples rendered half as wide as asked."""
    return create_app(settings(), image_cache_class=NarrowerImages)


def no_key_needed() -> Starlette:
    """A server that takes any key, and a request without one as well."""
    app = create_app(settings().replace(api_keys=frozenset()))
    app.add_middleware(DefaultKey)
    return app


BROKEN_SERVERS: dict[str, Callable[[], Starlette]] = {
    "wrong_422_shape": wrong_422_shape,
    "wrong_status_code": wrong_status_code,
    "missing_required_field": missing_required_field,
    "endless_lifecycle": endless_lifecycle,
    "wrong_image_size": wrong_image_size,
    "no_key_needed": no_key_needed,
}


class DefaultKey:
    """ASGI middleware: a request without ``x-key`` is let in as if it had one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not any(k == b"x-key" for k, _ in scope["headers"]):
            scope = {**scope, "headers": [*scope["headers"], (b"x-key", b"anyone")]}
        await self.app(scope, receive, send)


class RewriteJson:
    """ASGI middleware: rewrite JSON responses of one status (body, status, or both)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        status: int,
        new_status: int | None = None,
        rewrite: Callable[[Any], Any] | None = None,
    ) -> None:
        self.app = app
        self.status = status
        self.new_status = new_status
        self.rewrite = rewrite

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                if message["status"] != self.status:
                    await send(message)
                return
            if start is None or start["status"] != self.status:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            if self.rewrite is not None:
                body = json.dumps(self.rewrite(json.loads(body))).encode()
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "status": self.new_status or self.status, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)


def busy_at_first(refusals: int = 2) -> Starlette:
    """Not broken: the first submits are refused 429 with Retry-After, as the real API does."""
    app = mock()
    app.add_middleware(TooManyTasks, refusals=refusals)
    return app


class TooManyTasks:
    """ASGI middleware: answer the first ``refusals`` POSTs 429, then let everything through."""

    def __init__(self, app: ASGIApp, *, refusals: int) -> None:
        self.app = app
        self.left = refusals

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and self.left > 0:
            self.left -= 1
            body = json.dumps({"detail": "Too many active tasks"}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 429,
                    "headers": [(b"content-type", b"application/json"), (b"retry-after", b"0")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
