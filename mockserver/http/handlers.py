"""Thin handlers, one per kind of operation: read the validated request, plan, store, render.

Requests reach a handler only after ``validation`` accepted them (see ``app``). What an
endpoint does beyond its schema comes from the endpoint table (``domain.endpoints``);
injected faults are resolved by ``faults``, the finished task's result by ``results``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response

from mockserver.domain import outcomes, scenarios
from mockserver.domain.endpoints import Media
from mockserver.domain.generation import PROMPT, Refused, plan
from mockserver.domain.media import INVALID_INPUT, InputKind, Inputs
from mockserver.domain.scenarios import Target
from mockserver.http.delivery import sources_of, video_request
from mockserver.http.faults import (
    NO_FAULT,
    Layer,
    fault_for,
    fault_response,
    header_scenario,
    shaped,
)
from mockserver.http.runtime import Runtime
from mockserver.render import fastapi_errors, wire
from mockserver.settings import Timing
from mockserver.spec.openapi import Operation, OperationKind, TaskStatus
from mockserver.spec.validation import Accepted
from mockserver.state.records import SERVER_SCOPE, Refusal
from mockserver.state.tasks import Submission

Handler = Callable[[Runtime, Operation, Request, Accepted], Awaitable[Response]]


async def submit(rt: Runtime, op: Operation, request: Request, accepted: Accepted) -> Response:
    behaviour = rt.behaviours.for_path(op.path)
    body = accepted.body or {}
    header_text = request.headers.get(scenarios.HEADER) or ""
    prompt_text = scenarios.prompt_directives(str(body.get(PROMPT) or ""))
    own = scenarios.parse(header_text).merged(scenarios.parse(prompt_text))
    server = scenarios.parsed(await rt.store.scenario())
    layers: list[Layer] = [(own, None), (server, SERVER_SCOPE)]
    fault = await fault_for(rt, Target.SUBMIT, layers)
    if fault.status is not None:
        return await shaped(rt, fault_response(rt, fault.status), fault)
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
        return await shaped(rt, fastapi_errors.refusal(planned, accepted.raw_body), fault)
    outcome = outcomes.decide(server.merged(own), planned)
    origin = rt.origin(request)
    admitted = await rt.tasks.submit(
        Submission(
            generation=planned,
            outcome=outcome,
            directives=",".join(text for text in (header_text, prompt_text) if text),
            poll_faults=own.fault(Target.POLL) != NO_FAULT,
            origin=origin,
        )
    )
    if isinstance(admitted, Refusal):
        return await shaped(rt, fault_response(rt, admitted.status), fault)
    if planned.webhook_url is not None:
        rt.webhooks.queued()
    if (
        planned.media is Media.VIDEO
        and outcome.status is TaskStatus.READY
        and rt.settings.timing is Timing.TIME
    ):
        # Rendered while the task generates, so its download is quick; by polls (tests)
        # a task may end at once and many are never downloaded: rendered on demand.
        rt.videos.prepare(video_request(admitted), sources_of(planned))
    response = rt.renderer.submitted(
        task_id=admitted.id,
        polling_url=rt.polling_url(origin, admitted.id),
        webhook_url=planned.webhook_url,
        cost_mode=rt.settings.submit_cost,
        price=planned.quote,
        numeric=planned.quoted_on_submit,
    )
    return await shaped(rt, response, fault)


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
    fault = await fault_for(rt, Target.POLL, layers)
    if fault.status is not None:
        return await shaped(rt, fault_response(rt, fault.status), fault)
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
        return await shaped(rt, response, fault)
    ready = task.status is TaskStatus.READY
    ended = task.status.is_final
    response = rt.renderer.task(
        task_id=task.id,
        status=task.status,
        status_code=task.outcome.status_code if ended else 200,
        result=rt.results.sample_result(task, rt.origin(request), server) if ready else None,
        progress=task.progress,
        details=task.shown_outcome,
        settled_cost=rt.results.settled_cost(task),
        headers=headers,
    )
    return await shaped(rt, response, fault)


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


async def openapi(rt: Runtime, request: Request) -> Response:
    return Response(rt.spec.raw, media_type=wire.JSON)
