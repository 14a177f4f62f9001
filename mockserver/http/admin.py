"""Control of a running mock: scenarios, journal, tasks, webhooks, credits, reset.

The same ``Control`` backs the admin HTTP API under ``/_mock`` (for clients in any
language; off with ``admin=False``) and the Python API of ``MockServer`` and the pytest
fixture, so every way of steering the mock shares one implementation.
"""

from __future__ import annotations

import dataclasses
import html
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from mockserver.domain import scenarios
from mockserver.domain.scenarios import DirectiveError, Scenario
from mockserver.http.handlers import Runtime, sample_result
from mockserver.render.responses import detail, json_response
from mockserver.spec.openapi import TaskStatus
from mockserver.state.store import Call, Delivery, Task, filter_calls

ADMIN_ROOT = "/_mock"
DASHBOARD_ROWS = 50
DASHBOARD_REFRESH_SECONDS = 2
DELIVERY_WAIT_STEP_SECONDS = 0.01


class Control:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    def set_scenario(self, directives: str) -> Scenario:
        """Apply ``directives`` to every request until reset (raises ``DirectiveError``)."""
        scenario = scenarios.parse(directives)
        self._rt.store.set_scenario(scenario)
        return scenario

    def clear_scenario(self) -> None:
        self._rt.store.set_scenario(scenarios.NO_SCENARIO)

    def scenario(self) -> Scenario:
        return self._rt.store.scenario()

    def calls(
        self, *, path: str | None = None, status: int | None = None, verdict: str | None = None
    ) -> tuple[Call, ...]:
        return filter_calls(self._rt.store.calls(), path=path, status=status, verdict=verdict)

    def tasks(self) -> tuple[Task, ...]:
        return self._rt.store.tasks()

    def deliveries(self) -> tuple[Delivery, ...]:
        return self._rt.store.deliveries()

    def wait_for_deliveries(self, count: int = 1, timeout: float = 5.0) -> tuple[Delivery, ...]:
        """Block until ``count`` webhooks are delivered, skipped or out of retries.

        For test code in another thread than the server's; returns those finished so far
        when ``timeout`` runs out.
        """
        attempts_allowed = 1 + len(self._rt.settings.webhook_retry_delays)
        deadline = time.monotonic() + timeout
        while True:
            done = tuple(
                d
                for d in self.deliveries()
                if d.delivered or d.skipped or len(d.attempts) >= attempts_allowed
            )
            if len(done) >= count or time.monotonic() > deadline:
                return done
            time.sleep(DELIVERY_WAIT_STEP_SECONDS)

    def set_credits(self, api_key: str, credits: float) -> None:
        self._rt.store.set_balance(api_key, credits)

    def reset(self) -> None:
        self._rt.store.reset()
        self._rt.poll_windows.reset()

    def sample_url(self, task: Task, origin: str = "") -> str | None:
        """A signed URL of a Ready task's image (relative unless ``origin`` is given)."""
        if task.status is not TaskStatus.READY:
            return None
        return sample_result(self._rt, origin, task).sample


def admin_routes(control: Control) -> list[BaseRoute]:
    def route(path: str, method: str, endpoint: Callable[[Request], Awaitable[Response]]) -> Route:
        made = Route(ADMIN_ROOT + path, endpoint, methods=[method])
        made.methods = {method}
        return made

    async def journal(request: Request) -> Response:
        query = request.query_params
        try:
            status = int(query["status"]) if "status" in query else None
        except ValueError:
            return detail(400, "status must be an integer")
        calls = control.calls(path=query.get("path"), status=status, verdict=query.get("verdict"))
        return json_response([_call_json(call) for call in calls])

    async def tasks(request: Request) -> Response:
        return json_response([_task_json(task) for task in control.tasks()])

    async def webhooks(request: Request) -> Response:
        return json_response([_delivery_json(delivery) for delivery in control.deliveries()])

    async def get_scenario(request: Request) -> Response:
        return json_response(_scenario_json(control.scenario()))

    async def put_scenario(request: Request) -> Response:
        text = (await request.body()).decode(errors="replace")
        try:
            scenario = control.set_scenario(_directives(text))
        except (DirectiveError, ValueError) as error:
            return detail(400, str(error))
        return json_response(_scenario_json(scenario))

    async def delete_scenario(request: Request) -> Response:
        control.clear_scenario()
        return json_response(_scenario_json(control.scenario()))

    async def put_credits(request: Request) -> Response:
        try:
            payload = json.loads(await request.body())
            api_key, credits = str(payload["api_key"]), float(payload["credits"])
        except (ValueError, KeyError, TypeError):
            return detail(400, 'send {"api_key": "<key>", "credits": <number>}')
        control.set_credits(api_key, credits)
        return json_response({"api_key": api_key, "credits": credits})

    async def reset(request: Request) -> Response:
        control.reset()
        return Response(status_code=204)

    async def dashboard(request: Request) -> Response:
        return HTMLResponse(render_dashboard(control))

    return [
        route("/", "GET", dashboard),
        route("/journal", "GET", journal),
        route("/tasks", "GET", tasks),
        route("/webhooks", "GET", webhooks),
        route("/scenario", "GET", get_scenario),
        route("/scenario", "PUT", put_scenario),
        route("/scenario", "DELETE", delete_scenario),
        route("/credits", "PUT", put_credits),
        route("/reset", "POST", reset),
    ]


def render_dashboard(control: Control) -> str:
    """A page for people: the scenario, recent tasks with their images, recent requests."""
    task_rows = "".join(
        _row(
            f"<code>{html.escape(task.id)}</code>",
            html.escape(task.generation.endpoint),
            task.status.name,
            f"{task.generation.width}×{task.generation.height} "
            + html.escape(task.generation.output_format),
            _thumbnail(control.sample_url(task)),
        )
        for task in control.tasks()[-DASHBOARD_ROWS:][::-1]
    )
    call_rows = "".join(
        _row(
            html.escape(call.method),
            html.escape(call.path + ("?" + call.query if call.query else "")),
            str(call.status),
            html.escape("; ".join(call.problems)) or call.verdict,
        )
        for call in control.calls()[-DASHBOARD_ROWS:][::-1]
    )
    scenario = html.escape(json.dumps(_scenario_json(control.scenario())))
    return (
        "<!doctype html><html><head><meta charset=utf-8>"
        f'<meta http-equiv="refresh" content="{DASHBOARD_REFRESH_SECONDS}">'
        "<title>bfl-mock</title><style>body{font:14px sans-serif;margin:2em}"
        "td,th{padding:2px 8px;text-align:left;vertical-align:top}img{max-height:64px}</style>"
        f"</head><body><h1>bfl-mock</h1><p>Scenario: <code>{scenario}</code></p>"
        "<h2>Tasks</h2><table>"
        + _row("id", "endpoint", "status", "size", "image", cell="th")
        + task_rows
        + "</table><h2>Requests</h2><table>"
        + _row("method", "path", "status", "verdict", cell="th")
        + call_rows
        + "</table></body></html>"
    )


def _row(*cells: str, cell: str = "td") -> str:
    return "<tr>" + "".join(f"<{cell}>{text}</{cell}>" for text in cells) + "</tr>"


def _thumbnail(url: str | None) -> str:
    if url is None:
        return ""
    escaped = html.escape(url)
    return f'<a href="{escaped}"><img src="{escaped}" alt="sample"></a>'


def _directives(text: str) -> str:
    """Directives sent as plain text, or as ``{"directives": "..."}``."""
    stripped = text.strip()
    if stripped.startswith("{"):
        value = json.loads(stripped).get("directives", "")
        if not isinstance(value, str):
            raise ValueError('"directives" must be a string')
        return value
    return stripped


def _call_json(call: Call) -> dict[str, Any]:
    return {
        "at": call.at,
        "method": call.method,
        "path": call.path,
        "query": call.query,
        "status": call.status,
        "operation_id": call.operation_id,
        "verdict": call.verdict,
        "problems": list(call.problems),
        "response_problems": list(call.response_problems),
        "headers": dict(call.headers),
        "body": call.body.decode(errors="replace"),
    }


def _task_json(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "endpoint": task.generation.endpoint,
        "status": task.status.name,
        "outcome": task.outcome.name,
        "polls": task.polls,
        "seed": task.seed,
        "width": task.generation.width,
        "height": task.generation.height,
        "output_format": task.generation.output_format,
        "created_at": task.created_at,
        "finished_at": task.finished_at,
    }


def _delivery_json(delivery: Delivery) -> dict[str, Any]:
    return {
        "task_id": delivery.task_id,
        "url": delivery.url,
        "delivered": delivery.delivered,
        "skipped": delivery.skipped,
        "note": delivery.note,
        "attempts": [dataclasses.asdict(attempt) for attempt in delivery.attempts],
        "headers": dict(delivery.headers),
        "body": delivery.body.decode(),
    }


def _scenario_json(scenario: Scenario) -> dict[str, Any]:
    faults = {
        target.value: {k: v for k, v in dataclasses.asdict(fault).items() if v is not None}
        for target, fault in scenario.faults.items()
    }
    return {
        "outcome": scenario.outcome.name if scenario.outcome else None,
        "detail": list(scenario.detail) if scenario.detail else None,
        "faults": {target: fault for target, fault in sorted(faults.items()) if fault},
        "expired": bool(scenario.expired),
        "webhook_lost": bool(scenario.webhook_lost),
    }
