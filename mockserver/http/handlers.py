"""Thin handlers, one per kind of operation: read the validated request, call the store, render.

Requests reach a handler only after ``validation`` accepted them (see ``app``). Scenario
directives (``scenarios``) decide outcomes and injected faults here, in one place.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import random
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response

from mockserver.domain import moderation, scenarios
from mockserver.domain.generation import Generation, read_generation, upsampled
from mockserver.domain.scenarios import Fault, Scenario, Target
from mockserver.http.webhooks import WebhookDispatcher
from mockserver.render import responses
from mockserver.render.images import ImageCache, ImageRequest
from mockserver.render.sample_urls import Access, SampleSigner
from mockserver.settings import MockSettings
from mockserver.spec.openapi import Operation, OperationKind, Spec, TaskStatus
from mockserver.spec.validation import Accepted
from mockserver.state.poll_windows import PollWindows
from mockserver.state.store import SERVER_SCOPE, Task, TaskStore

NO_FAULT = scenarios.Fault()
DEFAULT_ERROR = "Generation failed"
DEFAULT_MODERATION_REASON = "Safety Filter"


@dataclasses.dataclass(frozen=True, slots=True)
class Runtime:
    """Everything a handler may use, built once by ``create_app``."""

    spec: Spec
    settings: MockSettings
    store: TaskStore
    renderer: responses.Renderer
    images: ImageCache
    signer: SampleSigner
    webhooks: WebhookDispatcher
    chance: random.Random
    """Draws injected latencies (kept apart from the store's ids and seeds)."""
    task_id_param: str
    """Name of get_result's query parameter carrying the task id."""
    poll_windows: PollWindows = dataclasses.field(default_factory=PollWindows)
    """Each client's window of polls, reported in the rate-limit headers of get_result."""
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

    def polling_url(self, origin: str, task_id: str) -> str:
        prefix = _polling_prefix(origin, self.result_path, self.task_id_param)
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
Layer = tuple[Scenario, str | None]
"""A scenario and the scope counting its limited faults (None: this exchange only)."""


def header_scenario(request: Request) -> Scenario:
    """Directives in the ``x-bfl-mock`` header (raises ``DirectiveError``)."""
    text = request.headers.get(scenarios.HEADER)
    return scenarios.parse(text) if text else scenarios.NO_SCENARIO


async def submit(rt: Runtime, op: Operation, request: Request, accepted: Accepted) -> Response:
    generation = read_generation(
        accepted.body or {},
        endpoint=op.path,
        api_key=accepted.api_key,
        price=rt.settings.price_of(op.path),
    )
    own = header_scenario(request).merged(scenarios.from_prompt(generation.prompt))
    server = rt.store.scenario()
    layers: list[Layer] = [(own, None), (server, SERVER_SCOPE)]
    fault = _fault(rt, Target.SUBMIT, layers)
    if fault.status is not None:
        return await _shaped(rt, _fault_response(rt, fault.status), fault)
    refusal = _refusal(rt, generation)
    if refusal is not None:
        return await _shaped(rt, refusal, fault)
    outcome, details = _outcome(server.merged(own), generation)
    task = rt.store.new_task(generation, outcome=outcome, outcome_details=details, scenario=own)
    origin = rt.origin(request)
    if generation.webhook_url is not None:
        rt.webhooks.schedule(task, lambda finished: sample_result(rt, origin, finished))
    response = rt.renderer.submitted(
        task_id=task.id,
        polling_url=rt.polling_url(origin, task.id),
        webhook_url=generation.webhook_url,
        cost_mode=rt.settings.submit_cost,
        price=generation.price,
        megapixels=generation.megapixels,
    )
    return await _shaped(rt, response, fault)


def _refusal(rt: Runtime, generation: Generation) -> Response | None:
    """429 past the active-task limit, 402 when the credits cannot cover the image."""
    active, available = rt.store.standing(generation.api_key)
    if active >= rt.settings.max_active_tasks:
        return _fault_response(rt, 429)
    if generation.api_key is not None and available < generation.price:
        return _fault_response(rt, 402)
    return None


def _outcome(
    scenario: Scenario, generation: Generation
) -> tuple[TaskStatus, Mapping[str, object] | None]:
    """The final status a new task will reach, and the ``details`` it will carry."""
    outcome, reasons = scenario.outcome, scenario.detail
    if outcome is None:
        assessed = moderation.assess(generation.prompt, generation.safety_tolerance)
        outcome, reasons = assessed if assessed else (TaskStatus.READY, None)
    if outcome is TaskStatus.ERROR:
        return outcome, {responses.ERROR_DETAIL: "; ".join(reasons or (DEFAULT_ERROR,))}
    if outcome in (TaskStatus.REQUEST_MODERATED, TaskStatus.CONTENT_MODERATED):
        return outcome, {
            moderation.MODERATION_REASONS: list(reasons or (DEFAULT_MODERATION_REASON,))
        }
    return outcome, None


async def get_result(rt: Runtime, op: Operation, request: Request, accepted: Accepted) -> Response:
    task_id = str(accepted.params[rt.task_id_param])
    layers: list[Layer] = [(header_scenario(request), None)]
    task_scenario = rt.store.scenario_of(task_id)
    if task_scenario is not None:
        layers.append((task_scenario, task_id))
    layers.append((rt.store.scenario(), SERVER_SCOPE))
    fault = _fault(rt, Target.POLL, layers)
    if fault.status is not None:
        return await _shaped(rt, _fault_response(rt, fault.status), fault)
    client = request.client.host if request.client else ""
    headers = rt.poll_windows.poll(client, rt.store.now()).headers()
    task = rt.store.poll(task_id)
    if task is None:
        response = rt.renderer.task(
            task_id=task_id,
            status=TaskStatus.TASK_NOT_FOUND,
            status_code=rt.settings.unknown_task_status_code,
            headers=headers,
        )
    else:
        ready = task.status is TaskStatus.READY
        response = rt.renderer.task(
            task_id=task.id,
            status=task.status,
            result=sample_result(rt, rt.origin(request), task) if ready else None,
            progress=task.progress,
            details=task.details,
            headers=headers,
        )
    return await _shaped(rt, response, fault)


def sample_result(rt: Runtime, origin: str, task: Task) -> responses.SampleResult:
    generation = task.generation
    image = _image_request(task)
    ready_at = task.finished_at or task.created_at
    started_at = task.started_at or task.created_at
    expired = task.scenario.expired or rt.store.scenario().expired
    sample = rt.signer.sign(
        task.blob,
        generation.output_format,
        image.media_type,
        expires_at=ready_at + (0.0 if expired else rt.settings.sample_ttl_seconds),
    )
    return responses.SampleResult(
        sample=origin + sample,
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
    layers: list[Layer] = [
        (header_scenario(request), None),
        (task.scenario, task.id),
        (rt.store.scenario(), SERVER_SCOPE),
    ]
    fault = _fault(rt, Target.IMAGE, layers)
    if fault.status is not None:
        return await _shaped(rt, _fault_response(rt, fault.status), fault)
    if verdict.access is Access.EXPIRED:
        response = responses.expired_sample(
            signed_at=task.finished_at or task.created_at,
            expires_at=verdict.expires_at or now,
            now=now,
        )
    else:
        rendered = await rt.images.get(_image_request(task))
        response = responses.image(
            rendered, created_at=task.finished_at or now, head=request.method == "HEAD"
        )
    return await _shaped(rt, response, fault)


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


def _fault(rt: Runtime, target: Target, layers: list[Layer]) -> Fault:
    """The fault for this exchange: the most specific layer wins, field by field.

    A status limited to N exchanges counts in its layer's scope (the task, or the
    server); once spent, a less specific layer may still apply.
    """
    layers = [layer for layer in layers if layer[0] is not scenarios.NO_SCENARIO]
    if not layers:
        return NO_FAULT  # the usual case, kept cheap: no directive anywhere
    merged = scenarios.Fault()
    for scenario, _ in reversed(layers):
        merged = merged.merged(dataclasses.replace(scenario.fault(target), status=None))
    for scenario, scope in layers:
        fault = scenario.fault(target)
        if fault.status is None:
            continue
        if scope is None or rt.store.take_fault(scope, target, fault.times):
            return dataclasses.replace(merged, status=fault.status)
    return merged


def _fault_response(rt: Runtime, status_code: int) -> Response:
    return responses.fault(status_code, retry_after=rt.settings.retry_after_seconds)


async def _shaped(rt: Runtime, response: Response, fault: Fault) -> Response:
    """Apply the fault's latency, slowness and dropping to a rendered response."""
    if fault.latency is not None:
        await asyncio.sleep(fault.latency.draw(rt.chance))
    if fault.slow or fault.drop:
        return responses.ShapedResponse(response, slow=fault.slow, drop=bool(fault.drop))
    return response
