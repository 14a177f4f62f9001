"""Thin handlers, one per kind of operation: read the validated request, call the store, render.

Requests reach a handler only after ``validation`` accepted them (see ``app``).
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response

from mockserver import responses
from mockserver.delivery import Access, SampleSigner
from mockserver.generation import read_generation, upsampled
from mockserver.images import ImageCache, ImageRequest
from mockserver.ratelimit import PollWindows
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
    poll_windows: PollWindows = dataclasses.field(default_factory=PollWindows)
    """Each client's window of polls, reported in the rate-limit headers of get_result."""

    def origin(self, request: Request) -> str:
        """Where clients reach the mock: the public URL if set, else the request's own origin."""
        return (self.settings.public_url or str(request.base_url)).rstrip("/")

    def polling_url(self, request: Request, task_id: str) -> str:
        query = urllib.parse.urlencode({self.task_id_param: task_id})
        return f"{self.origin(request)}{self.spec.result_operation.path}?{query}"


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
    client = request.client.host if request.client else ""
    headers = rt.poll_windows.poll(client, rt.store.now()).headers()
    task = rt.store.poll(task_id)
    if task is None:
        return rt.renderer.task(
            task_id=task_id,
            status=TaskStatus.TASK_NOT_FOUND,
            status_code=rt.settings.unknown_task_status_code,
            headers=headers,
        )
    return rt.renderer.task(
        task_id=task.id,
        status=task.status,
        result=_result(rt, request, task) if task.status is TaskStatus.READY else None,
        progress=task.progress,
        details=task.details,
        headers=headers,
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
    verdict = rt.signer.verify(request.url.path, request.query_params, now)
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
