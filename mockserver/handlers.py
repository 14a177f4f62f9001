"""Thin handlers, one per kind of operation: read the validated request, call the store, render.

Requests reach a handler only after ``validation`` accepted them (see ``app``).
"""

from __future__ import annotations

import dataclasses
import functools
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response

from mockserver import responses
from mockserver.delivery import Access, SampleSigner
from mockserver.generation import read_generation, upsampled
from mockserver.images import ImageCache, ImageRequest
from mockserver.settings import MockSettings
from mockserver.spec import Operation, OperationKind, Spec, TaskStatus
from mockserver.store import Task, TaskStore
from mockserver.validation import Accepted


@dataclasses.dataclass(frozen=True, slots=True)
class Runtime:
    """Everything a handler may use, built once by ``create_app``."""

    spec: Spec
    settings: MockSettings
    store: TaskStore
    renderer: responses.Renderer
    images: ImageCache
    signer: SampleSigner
    task_id_param: str
    """Name of get_result's query parameter carrying the task id."""
    result_path: str = dataclasses.field(init=False)
    """get_result's path, looked up once."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "result_path", self.spec.result_operation.path)

    def origin(self, request: Request) -> str:
        """Where clients reach the mock: the public URL if set, else the request's own origin."""
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/")
        scope = request.scope
        host = None
        for name, value in scope["headers"]:
            if name == b"host":  # the first one, as Starlette takes it
                host = value
                break
        server = scope.get("server")
        return _origin(
            scope.get("scheme", "http"),
            host,
            None if server is None else tuple(server),
            scope.get("app_root_path", scope.get("root_path", "")),
        )

    def polling_url(self, request: Request, task_id: str) -> str:
        prefix = _polling_prefix(self.origin(request), self.result_path, self.task_id_param)
        return prefix + urllib.parse.quote_plus(task_id)


# Clients reach the mock by one or a few names: both are computed once per name.


@functools.lru_cache(maxsize=256)
def _origin(scheme: str, host: bytes | None, server: tuple[str, int] | None, root_path: str) -> str:
    """``str(request.base_url)`` without its final slash, for a request with these parts."""
    scope = {
        "type": "http",
        "scheme": scheme,
        "server": server,
        "root_path": root_path,
        "path": "/",
        "query_string": b"",
        "headers": [] if host is None else [(b"host", host)],
    }
    return str(Request(scope).base_url).rstrip("/")


@functools.lru_cache(maxsize=256)
def _polling_prefix(origin: str, result_path: str, task_id_param: str) -> str:
    """The polling URL up to the task id (``urlencode`` quotes both sides with quote_plus)."""
    return f"{origin}{result_path}?{urllib.parse.quote_plus(task_id_param)}="


Handler = Callable[[Runtime, Operation, Request, Accepted], Awaitable[Response]]


async def submit(rt: Runtime, op: Operation, request: Request, accepted: Accepted) -> Response:
    generation = read_generation(
        accepted.body or {},
        endpoint=op.path,
        api_key=accepted.api_key,
        price=rt.settings.price_of(op.path),
    )
    task = rt.store.new_task(generation)
    return rt.renderer.submitted(
        task_id=task.id,
        polling_url=rt.polling_url(request, task.id),
        cost_mode=rt.settings.submit_cost,
        price=generation.price,
        megapixels=generation.megapixels,
    )


async def get_result(rt: Runtime, op: Operation, request: Request, accepted: Accepted) -> Response:
    task_id = str(accepted.params[rt.task_id_param])
    task = rt.store.poll(task_id)
    if task is None:
        return rt.renderer.task(
            task_id=task_id,
            status=TaskStatus.TASK_NOT_FOUND,
            status_code=rt.settings.unknown_task_status_code,
        )
    return rt.renderer.task(
        task_id=task.id,
        status=task.status,
        result=_result(rt, request, task) if task.status is TaskStatus.READY else None,
        progress=task.progress,
        details=task.details,
    )


def _result(rt: Runtime, request: Request, task: Task) -> responses.SampleResult:
    generation = task.generation
    image = _image_request(task)
    ready_at = task.finished_at or task.created_at
    started_at = task.started_at or task.created_at
    sample = rt.signer.sign(
        task.blob,
        generation.output_format,
        image.media_type,
        expires_at=ready_at + rt.settings.sample_ttl_seconds,
    )
    return responses.SampleResult(
        sample=rt.origin(request) + sample,
        prompt=upsampled(generation.prompt) if generation.prompt_upsampling else generation.prompt,
        seed=task.seed,
        start_time=started_at,
        end_time=ready_at,
        duration=ready_at - started_at,
    )


async def credits(rt: Runtime, op: Operation, request: Request, accepted: Accepted) -> Response:
    return rt.renderer.credits(rt.store.balance(accepted.api_key or ""))


async def other(rt: Runtime, op: Operation, request: Request, accepted: Accepted) -> Response:
    return rt.renderer.minimal(op.responses.get(200))


HANDLERS: Mapping[OperationKind, Handler] = {
    OperationKind.GENERATION: submit,
    OperationKind.RESULT: get_result,
    OperationKind.CREDITS: credits,
    OperationKind.OTHER: other,
}


async def sample(rt: Runtime, request: Request) -> Response:
    """Serve a signed sample URL, refusing it as Azure Blob Storage does."""
    now = rt.store.now()
    scope = request.scope
    verdict = rt.signer.verify_query(scope["path"], scope["query_string"].decode("latin-1"), now)
    if verdict.access is Access.BAD_SIGNATURE:
        return responses.bad_signature(now)
    task = rt.store.task_by_blob(request.path_params["blob"])
    if task is None or task.status is not TaskStatus.READY:
        return responses.blob_not_found(now)
    if verdict.access is Access.EXPIRED:
        return responses.expired_sample(
            signed_at=task.finished_at or task.created_at,
            expires_at=verdict.expires_at or now,
            now=now,
        )
    rendered = await rt.images.get(_image_request(task))
    return responses.image(
        rendered, created_at=task.finished_at or now, head=request.method == "HEAD"
    )


def _image_request(task: Task) -> ImageRequest:
    generation = task.generation
    return ImageRequest(
        prompt=generation.prompt,
        seed=task.seed,
        width=generation.width,
        height=generation.height,
        output_format=generation.output_format,
    )


async def openapi(rt: Runtime, request: Request) -> Response:
    return Response(rt.spec.raw, media_type=responses.JSON)
