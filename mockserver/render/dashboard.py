"""What the live dashboard shows: the mock's records as one JSON snapshot.

Statuses are spelled as the served spec spells them (``Content Moderated``), never by
the names of the mock's own enum. Each list is filtered by the viewer's query, then
capped, with the number that matched, so a page can say "showing 50 of 1,234".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mockserver.domain.endpoints import Media
from mockserver.domain.outcomes import Outcome
from mockserver.spec.openapi import TaskStatus
from mockserver.state.records import ACCEPTED, REJECTED, Call, Delivery, Task

ROWS = 50
"""Rows of each list sent to a page: the newest first."""
VERDICTS = (ACCEPTED, REJECTED)
ADMIN_ROOT = "/_mock"
"""Where the admin API and the dashboard are served, the dashboard's media among them."""
MEDIA_PATH = "/media/{task_id}"
"""A Ready task's image or video for the dashboard (under ``ADMIN_ROOT``): unsigned, so it
never expires."""
MEDIA_ROUTE = ADMIN_ROOT + MEDIA_PATH


class QueryError(ValueError):
    """A dashboard query the page cannot have sent (answered 400)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Query:
    """What the viewer filters by: words, a task status (wire spelling), a verdict."""

    search: str = ""
    status: str = ""
    verdict: str = ""

    @classmethod
    def of(cls, params: Mapping[str, str], statuses: Iterable[str]) -> Query:
        status, verdict = params.get("status", ""), params.get("verdict", "")
        if status and status not in set(statuses):
            raise QueryError(f"status must be one of the spec's task statuses, not {status!r}")
        if verdict and verdict not in VERDICTS:
            raise QueryError(f"verdict must be {' or '.join(VERDICTS)}, not {verdict!r}")
        return cls(params.get("q", "").strip().casefold(), status, verdict)

    def finds(self, *texts: str | None) -> bool:
        return not self.search or any(self.search in (t or "").casefold() for t in texts)


@dataclasses.dataclass(frozen=True, slots=True)
class Lists:
    """The records a snapshot is made of, as the store has them (oldest first)."""

    tasks: Sequence[Task]
    calls: Sequence[Call]
    deliveries: Sequence[Delivery]
    balances: Mapping[str, float]
    directives: str


def snapshot(lists: Lists, spelling: Mapping[TaskStatus, str], query: Query) -> dict[str, Any]:
    """The page's whole state: one JSON object, compared whole to see if anything changed."""
    tasks = [
        task
        for task in lists.tasks
        if (not query.status or _spelled(spelling, task.status) == query.status)
        and query.finds(task.id, task.generation.prompt, task.generation.endpoint)
    ]
    calls = lists.calls
    matching = (
        [i for i, call in enumerate(calls) if _call_matches(call, query)]
        if query.verdict or query.search
        else range(len(calls))
    )
    shown = [_call(call_key(calls, i), calls[i]) for i in matching[-ROWS:][::-1]]
    deliveries = [d for d in lists.deliveries if query.finds(d.task_id, d.url, d.note)]
    return {
        "statuses": list(spelling.values()),
        "scenario": lists.directives,
        "balances": [{"key": key, "credits": credits} for key, credits in lists.balances.items()],
        "tasks": _capped([_task(task, spelling) for task in tasks[-ROWS:][::-1]], len(tasks)),
        "calls": _capped(shown, len(matching)),
        "webhooks": _capped([_delivery(d) for d in deliveries[-ROWS:][::-1]], len(deliveries)),
    }


def call_key(calls: Sequence[Call], index: int) -> str:
    """A key that finds the call at ``index`` again while the journal keeps it.

    Its time, and its rank among the calls just before it of that same time (a
    manual clock gives many calls the same time).
    """
    at, rank = calls[index].at, 0
    while index - rank > 0 and calls[index - rank - 1].at == at:
        rank += 1
    return f"{at!r}~{rank}"


def find_call(calls: Sequence[Call], key: str) -> Call | None:
    """The call ``key`` names (see ``call_key``), if the journal still has it."""
    at_text, _, rank = key.rpartition("~")
    try:
        at = float(at_text)
    except ValueError:
        return None
    if not rank.isdigit():
        return None
    for index in range(len(calls) - 1, -1, -1):
        if calls[index].at == at and call_key(calls, index) == key:
            return calls[index]
    return None


def _call_matches(call: Call, query: Query) -> bool:
    return (not query.verdict or call.verdict == query.verdict) and query.finds(
        call.path, call.query, str(call.status), *call.problems
    )


def call_entry(call: Call) -> dict[str, Any]:
    """A journal entry, as the admin API and the dashboard show it (each masks secrets)."""
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
        "headers": list(call.headers),
        "body": call.body.decode(errors="replace"),
        "truncated": list(call.truncated),
    }


def call_detail(call: Call) -> dict[str, Any]:
    """Everything about one request: as sent, as answered, and why it was refused."""
    return {**call_entry(call), "response_body": call.response_body.decode(errors="replace")}


def _capped(rows: list[dict[str, Any]], matched: int) -> dict[str, Any]:
    return {"rows": rows, "matched": matched}


def _spelled(spelling: Mapping[TaskStatus, str], status: TaskStatus) -> str:
    # A status the spec lacks (never reported on the wire) is shown as the spec's Pending.
    return spelling.get(status) or spelling.get(TaskStatus.PENDING, status.name)


def _task(task: Task, spelling: Mapping[TaskStatus, str]) -> dict[str, Any]:
    generation = task.generation
    ready = task.status is TaskStatus.READY
    return {
        "id": task.id,
        "status": _spelled(spelling, task.status),
        "final": task.status.is_final,
        "ready": ready,
        "endpoint": generation.endpoint,
        "prompt": generation.prompt,
        "seed": task.seed,
        "width": generation.width,
        "height": generation.height,
        "format": generation.output_format,
        "video": generation.media is Media.VIDEO,
        "duration": generation.duration,
        "polls": task.polls,
        "created_at": task.created_at,
        "finished_at": task.finished_at,
        "cost": generation.quote.cost,
        "charged": ready,
        "reason": _reason(task.shown_outcome),
        "media": MEDIA_ROUTE.format(task_id=task.id) if ready else None,
    }


def _reason(shown: Outcome | None) -> str | None:
    """Why a task was moderated or failed, once the task shows its outcome."""
    if shown is None:
        return None
    reasons = shown.moderation_reasons if shown.error is None else (shown.error,)
    return ", ".join(reasons) if reasons else None


def _call(key: str, call: Call) -> dict[str, Any]:
    return {
        "key": key,
        "at": call.at,
        "method": call.method,
        "target": call.path + (f"?{call.query}" if call.query else ""),
        "status": call.status,
        "verdict": call.verdict,
        "problems": list(call.problems),
    }


def _delivery(delivery: Delivery) -> dict[str, Any]:
    state = (
        "delivered"
        if delivery.delivered
        else "skipped"
        if delivery.skipped
        else "failed"
        if delivery.failed
        else "waiting"
    )
    return {
        "task_id": delivery.task_id,
        "url": delivery.url,
        "state": state,
        "note": delivery.note,
        "attempts": [{"at": a.at, "status": a.status, "error": a.error} for a in delivery.attempts],
    }
