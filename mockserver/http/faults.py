"""Injected faults, resolved in one place: which one an exchange gets, and how it shapes the reply.

Directives come in layers, most specific first: the request's own (``x-bfl-mock`` header, or
the prompt), the task's (set at its submit), the server's scenario. The most specific layer
wins field by field; a status limited to N exchanges counts in its layer's scope.
"""

from __future__ import annotations

import dataclasses

from starlette.requests import Request
from starlette.responses import Response

from mockserver.domain import scenarios
from mockserver.domain.scenarios import Fault, Scenario, Target
from mockserver.http.runtime import Runtime
from mockserver.render import shaping

NO_FAULT = scenarios.Fault()

Layer = tuple[Scenario, str | None]
"""A scenario and the scope counting its limited faults (None: this exchange only)."""


def header_scenario(request: Request) -> Scenario:
    """Directives in the ``x-bfl-mock`` header (raises ``DirectiveError``)."""
    text = request.headers.get(scenarios.HEADER)
    return scenarios.parse(text) if text else scenarios.NO_SCENARIO


async def fault_for(rt: Runtime, target: Target, layers: list[Layer]) -> Fault:
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


def fault_response(rt: Runtime, status_code: int) -> Response:
    return shaping.fault(status_code, retry_after=rt.settings.retry_after_seconds)


async def shaped(rt: Runtime, response: Response, fault: Fault) -> Response:
    """Apply the fault's latency, slowness and dropping to a rendered response."""
    if fault.latency is not None:
        await rt.clock.sleep(fault.latency.draw(rt.chance))
    if fault.slow or fault.drop:
        return shaping.ShapedResponse(response, slow=fault.slow, drop=bool(fault.drop))
    return response
