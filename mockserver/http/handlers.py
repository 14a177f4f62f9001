"""Thin handlers, one per kind of operation: read the validated request, plan, store, render.

Requests reach a handler only after ``validation`` accepted them (see ``app``). What an
endpoint does beyond its schema comes from the endpoint table (``domain.endpoints``);
scenario directives (``scenarios``) decide outcomes and injected faults here, in one place.
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

from mockserver.clock import Clock
from mockserver.domain import moderation, scenarios
from mockserver.domain.drafts import DraftCodec
from mockserver.domain.endpoints import BehaviourTable, EndpointBehaviour, Media
from mockserver.domain.generation import PROMPT, Generation, Refused, plan
from mockserver.domain.media import INVALID_INPUT, InputKind, Inputs
from mockserver.domain.scenarios import Fault, Scenario, Target
from mockserver.http.inputs import InputReader
from mockserver.http.webhooks import WebhookDispatcher
from mockserver.render import responses
from mockserver.render.images import ImageCache, ImageRequest, media_type_of
from mockserver.render.sample_urls import (
    DRAFT_CACHE_STEM,
    SAMPLE_STEM,
    Access,
    SampleSigner,
    delivered_file,
)
from mockserver.render.video import Keyframe, VideoCache, VideoRequest, source_key
from mockserver.settings import MockSettings, Timing
from mockserver.spec.openapi import Operation, OperationKind, Spec, TaskStatus
from mockserver.spec.validation import Accepted
from mockserver.state.poll_windows import PollWindows
from mockserver.state.protocol import Store
from mockserver.state.records import SERVER_SCOPE, Refusal, Task
from mockserver.state.tasks import Submission, Tasks

NO_FAULT = scenarios.Fault()
DEFAULT_ERROR = "Generation failed"
DEFAULT_MODERATION_REASON = "Safety Filter"
BUNDLE_EXTENSION, BUNDLE_MEDIA_TYPE = "bin", "application/octet-stream"


class Runtime:
    """Everything a handler may use: built by ``create_app``, started on first use."""

    def __init__(
        self,
        *,
        spec: Spec,
        settings: MockSettings,
        clock: Clock,
        store: Store,
        tasks: Tasks,
        renderer: responses.Renderer,
        behaviours: BehaviourTable,
        images: ImageCache,
        videos: VideoCache,
        signer: SampleSigner,
        drafts: DraftCodec,
        inputs: InputReader,
        chance: random.Random,
        secrets: Mapping[str, bytes],
    ) -> None:
        self.spec = spec
        self.settings = settings
        self.clock = clock
        self.store = store
        self.tasks = tasks
        self.renderer = renderer
        self.behaviours = behaviours
        self.images = images
        self.videos = videos
        self.signer = signer
        self.drafts = drafts
        self.inputs = inputs
        self.chance = chance
        """Draws injected latencies (kept apart from ids and seeds)."""
        self.task_id_param = spec.task_id_param
        """Name of get_result's query parameter carrying the task id."""
        self.result_path = spec.result_operation.path
        self.poll_windows = PollWindows()
        """Each client's window of polls, reported in get_result's rate-limit headers
        (per process: README, "Several workers")."""
        self.webhooks = WebhookDispatcher(
            settings,
            tasks,
            renderer,
            lambda task, origin, server: sample_result(self, origin, task, server),
        )
        self._secrets = secrets
        self._started = False
        self._starting = asyncio.Lock()

    @property
    def started(self) -> bool:
        return self._started

    async def start(self) -> None:
        """Open the store and agree on the shared secrets, once (also without a lifespan)."""
        async with self._starting:
            if self._started:
                return
            await self.store.open()
            await self.tasks.start()
            self.signer.rekey(await self.store.secret(SIGNING, self._secrets[SIGNING]))
            self.drafts.rekey(await self.store.secret(DRAFTS, self._secrets[DRAFTS]))
            await self.store.set_scenario(self.settings.scenario)
            self._started = True

    async def stop(self) -> None:
        await self.webhooks.close()
        self.videos.close()
        await self.store.close()

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


SIGNING, DRAFTS = "signing", "drafts"
"""The shared secrets: sample URL signatures, draft bundles."""


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
    behaviour = rt.behaviours.for_path(op.path)
    body = accepted.body or {}
    header_text = request.headers.get(scenarios.HEADER) or ""
    prompt_text = scenarios.prompt_directives(str(body.get(PROMPT) or ""))
    own = scenarios.parse(header_text).merged(scenarios.parse(prompt_text))
    server = scenarios.parsed(await rt.store.scenario())
    layers: list[Layer] = [(own, None), (server, SERVER_SCOPE)]
    fault = await _fault(rt, Target.SUBMIT, layers)
    if fault.status is not None:
        return await _shaped(rt, _fault_response(rt, fault.status), fault)
    inputs = await rt.inputs.read(body, behaviour)
    inputs, replay = _opened_bundle(rt, inputs)
    planned = plan(
        body,
        behaviour,
        inputs,
        api_key=accepted.api_key,
        statuses=rt.spec.statuses,
        price_override=rt.settings.price_override(op.path, known=behaviour.known),
        replay=replay,
        prompt_limit=rt.settings.prompt_chars_kept,
    )
    if isinstance(planned, Refused):
        return await _shaped(rt, responses.refusal(planned, accepted.raw_body), fault)
    outcome = _outcome(server.merged(own), planned)
    origin = rt.origin(request)
    admitted = await rt.tasks.submit(
        Submission(
            generation=planned,
            outcome=outcome.status,
            details=None if outcome.details is None else dict(outcome.details),
            status_code=outcome.status_code,
            directives=",".join(text for text in (header_text, prompt_text) if text),
            poll_faults=own.fault(Target.POLL) != NO_FAULT,
            origin=origin,
        )
    )
    if isinstance(admitted, Refusal):
        return await _shaped(rt, _fault_response(rt, admitted.status), fault)
    if planned.webhook_url is not None:
        rt.webhooks.queued()
    if (
        planned.media is Media.VIDEO
        and outcome.status is TaskStatus.READY
        and rt.settings.timing is Timing.TIME
    ):
        # Rendered while the task generates, so its download is quick; by polls (tests)
        # a task may end at once and many are never downloaded: rendered on demand.
        rt.videos.prepare(video_request(admitted), _sources(planned))
    response = rt.renderer.submitted(
        task_id=admitted.id,
        polling_url=rt.polling_url(origin, admitted.id),
        webhook_url=planned.webhook_url,
        cost_mode=rt.settings.submit_cost,
        price=planned.quote,
        numeric=planned.quoted_on_submit,
    )
    return await _shaped(rt, response, fault)


def _opened_bundle(rt: Runtime, inputs: Inputs) -> tuple[Inputs, dict[str, object] | None]:
    """The generation a draft bundle pins; a bundle this mock did not seal is unusable."""
    for item in inputs.items:
        if item.kind is not InputKind.BUNDLE or not item.usable:
            continue
        fields = rt.drafts.open(item.payload or b"")
        if fields is None:
            unusable = dataclasses.replace(item, payload=None, problem=INVALID_INPUT)
            return Inputs(tuple(unusable if i is item else i for i in inputs.items)), None
        return inputs, dict(fields)
    return inputs, None


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """The final status a new task will reach, its ``details``, and the poll's HTTP status."""

    status: TaskStatus
    details: Mapping[str, object] | None = None
    status_code: int = 200


def _outcome(scenario: Scenario, generation: Generation) -> Outcome:
    outcome, reasons = scenario.outcome, scenario.detail
    if outcome is None and generation.failure is not None:
        return Outcome(
            TaskStatus.ERROR,
            {responses.ERROR_DETAIL: generation.failure},
            generation.failure_status,
        )
    if outcome is None:
        assessed = moderation.assess(generation.prompt, generation.safety_tolerance)
        outcome, reasons = assessed if assessed else (TaskStatus.READY, None)
    if outcome is TaskStatus.ERROR:
        return Outcome(outcome, {responses.ERROR_DETAIL: "; ".join(reasons or (DEFAULT_ERROR,))})
    if outcome in (TaskStatus.REQUEST_MODERATED, TaskStatus.CONTENT_MODERATED):
        reasons = reasons or (DEFAULT_MODERATION_REASON,)
        return Outcome(outcome, {moderation.MODERATION_REASONS: list(reasons)})
    return Outcome(outcome)


async def get_result(rt: Runtime, op: Operation, request: Request, accepted: Accepted) -> Response:
    task_id = str(accepted.params[rt.task_id_param])
    header = header_scenario(request)
    server = scenarios.parsed(await rt.store.scenario())
    if header.fault(Target.POLL).status is None and server.fault(Target.POLL).status is None:
        # The usual case, in one step: the poll is counted as the task is read, unless the
        # task itself injects poll faults (then it is counted once none applied).
        task = await rt.tasks.poll(task_id)
        counted = task is None or not task.record.poll_faults
    else:
        task, counted = await rt.tasks.look(task_id), False
    layers: list[Layer] = [(header, None)]
    if task is not None and task.record.poll_faults:
        layers.append((scenarios.parsed(task.record.directives), task_id))
    layers.append((server, SERVER_SCOPE))
    fault = await _fault(rt, Target.POLL, layers)
    if fault.status is not None:
        return await _shaped(rt, _fault_response(rt, fault.status), fault)
    if task is not None and not counted:
        task = await rt.tasks.count_poll(task)
    client = request.client.host if request.client else ""
    headers = rt.poll_windows.poll(client, rt.clock.now()).headers()
    if task is None:
        response = rt.renderer.task(
            task_id=task_id,
            status=TaskStatus.TASK_NOT_FOUND,
            status_code=rt.settings.unknown_task_status_code,
            headers=headers,
        )
        return await _shaped(rt, response, fault)
    ready = task.status is TaskStatus.READY
    ended = task.status.is_final
    response = rt.renderer.task(
        task_id=task.id,
        status=task.status,
        status_code=task.outcome_status_code if ended else 200,
        result=sample_result(rt, rt.origin(request), task, server) if ready else None,
        progress=task.progress,
        details=task.details,
        settled_cost=settled_cost(rt, task),
        headers=headers,
    )
    return await _shaped(rt, response, fault)


def settled_cost(rt: Runtime, task: Task) -> float | None:
    """The cost a final poll reports, for endpoints that settle it there (video)."""
    if (
        not task.status.is_final
        or not rt.behaviours.for_path(task.generation.endpoint).settled_cost
    ):
        return None
    return task.generation.price if task.status is TaskStatus.READY else 0.0


def sample_result(rt: Runtime, origin: str, task: Task, server: Scenario) -> responses.SampleResult:
    generation = task.generation
    behaviour = rt.behaviours.for_path(generation.endpoint)
    ready_at = task.finished_at or task.created_at
    started_at = task.started_at or task.created_at
    expires_at = ready_at + _sample_ttl(rt, task, behaviour, server)
    extension = generation.output_format
    sample = rt.signer.sign(task.blob, extension, media_type_of(extension), expires_at)
    keys = behaviour.result_keys
    draft_cache = None
    if generation.draft_fields is not None:
        keys = (*keys, *behaviour.draft_keys)
        draft_cache = origin + rt.signer.sign(
            task.blob, BUNDLE_EXTENSION, BUNDLE_MEDIA_TYPE, expires_at, stem=DRAFT_CACHE_STEM
        )
    return responses.SampleResult(
        keys=keys,
        sample=origin + sample,
        prompt=generation.result_prompt,
        seed=task.seed,
        start_time=started_at,
        end_time=ready_at,
        duration=ready_at - started_at,
        draft_cache=draft_cache,
    )


def _sample_ttl(rt: Runtime, task: Task, behaviour: EndpointBehaviour, server: Scenario) -> float:
    if scenarios.parsed(task.record.directives).expired or server.expired:
        return 0.0
    configured = rt.settings.sample_ttl_seconds
    return behaviour.sample_ttl_seconds if configured is None else configured


async def credits(rt: Runtime, op: Operation, request: Request, accepted: Accepted) -> Response:
    return rt.renderer.credits(await rt.store.balance(accepted.api_key or "", rt.clock.now()))


async def other(rt: Runtime, op: Operation, request: Request, accepted: Accepted) -> Response:
    return rt.renderer.minimal(op.responses.get(200))


HANDLERS: Mapping[OperationKind, Handler] = {
    OperationKind.GENERATION: submit,
    OperationKind.RESULT: get_result,
    OperationKind.CREDITS: credits,
    OperationKind.OTHER: other,
}


async def sample(rt: Runtime, request: Request) -> Response:
    """Serve a signed delivery URL (a sample or a draft bundle), refusing as Azure does."""
    now = rt.clock.now()
    scope = request.scope
    verdict = rt.signer.verify_query(scope["path"], scope["query_string"].decode("latin-1"), now)
    if verdict.access is Access.BAD_SIGNATURE:
        return responses.bad_signature(now)
    task = await rt.tasks.by_blob(request.path_params["blob"])
    if task is None or task.status is not TaskStatus.READY:
        return responses.blob_not_found(now)
    layers: list[Layer] = [
        (header_scenario(request), None),
        (scenarios.parsed(task.record.directives), task.id),
        (scenarios.parsed(await rt.store.scenario()), SERVER_SCOPE),
    ]
    fault = await _fault(rt, Target.IMAGE, layers)
    if fault.status is not None:
        return await _shaped(rt, _fault_response(rt, fault.status), fault)
    if verdict.access is Access.EXPIRED:
        response = responses.expired_sample(
            signed_at=task.finished_at or task.created_at,
            expires_at=verdict.expires_at or now,
            now=now,
        )
    else:
        rendered = await delivered(rt, task, request.path_params["filename"])
        if rendered is None:
            return responses.blob_not_found(now)
        response = responses.delivered(
            rendered, created_at=task.finished_at or now, head=request.method == "HEAD"
        )
    return await _shaped(rt, response, fault)


async def delivered(rt: Runtime, task: Task, filename: str) -> responses.Delivered | None:
    """What a Ready task's delivery URL serves: its sample, or a draft's bundle."""
    generation = task.generation
    stem, _, extension = filename.rpartition(".")
    if stem == DRAFT_CACHE_STEM and generation.draft_fields is not None:
        bundle = rt.drafts.seal({**generation.draft_fields, "seed": task.seed})
        return responses.Delivered.of(bundle, BUNDLE_MEDIA_TYPE)
    if stem != SAMPLE_STEM or extension != generation.output_format:
        return None
    if generation.media is Media.VIDEO:
        video = await rt.videos.get(video_request(task), _sources(generation))
        return responses.Delivered.of(video.data, video.media_type, video.md5)
    image = await rt.images.get(image_request(task))
    return responses.Delivered.of(image.data, image.media_type, image.md5)


async def own_media(rt: Runtime, url: str) -> bytes | None:
    """The bytes behind one of this mock's delivery URLs (any host), sent back as an input.

    None for any other URL, or one no longer valid.
    """
    parts = urllib.parse.urlsplit(url)
    named = delivered_file(parts.path)
    if named is None:
        return None
    verdict = rt.signer.verify_query(parts.path, parts.query, rt.clock.now())
    if verdict.access is not Access.GRANTED:
        return None
    task = await rt.tasks.by_blob(named[0])
    if task is None or task.status is not TaskStatus.READY:
        return None
    rendered = await delivered(rt, task, named[1])
    return None if rendered is None else rendered.data


def image_request(task: Task) -> ImageRequest:
    generation = task.generation
    return ImageRequest(
        prompt=generation.prompt,
        seed=task.seed,
        width=generation.width,
        height=generation.height,
        output_format=generation.output_format,
        endpoint=generation.endpoint,
        sources=generation.sources,
    )


def _sources(generation: Generation) -> dict[str, bytes]:
    return {source_key(source): source for source in generation.sources}


def video_request(task: Task) -> VideoRequest:
    """The clip of a video task; its inputs (keyframes, a source's last frame) shown in it."""
    generation = task.generation
    return VideoRequest(
        width=generation.width,
        height=generation.height,
        duration=generation.duration or 0.0,
        seed=task.seed,
        audio=generation.audio,
        caption=(generation.prompt, f"seed {task.seed}", generation.endpoint),
        keyframes=tuple(Keyframe(source_key(source)) for source in generation.sources),
    )


async def openapi(rt: Runtime, request: Request) -> Response:
    return Response(rt.spec.raw, media_type=responses.JSON)


async def _fault(rt: Runtime, target: Target, layers: list[Layer]) -> Fault:
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
        if (
            scope is None
            or fault.times is None
            or await rt.store.take_fault(scope, target.value, fault.times)
        ):
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
