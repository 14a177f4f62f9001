"""The JSON POSTed to a task's ``webhook_url``, in each style the mock can send."""

from __future__ import annotations

import datetime
from typing import Any

from mockserver.render.bodies import ID, RESULT, STATUS, SampleResult
from mockserver.render.wire import encode_json_safely
from mockserver.settings import WebhookStyle

WEBHOOK_SUCCESS, WEBHOOK_FAILURE = "SUCCESS", "FAILED"


def webhook_payload(
    style: WebhookStyle,
    *,
    task_id: str,
    status_text: str,
    succeeded: bool,
    result: SampleResult | None,
    error: str | None,
    now: float,
) -> bytes:
    """The JSON POSTed to ``webhook_url`` when a task ends."""
    result_body = None if result is None else result.as_json()
    if style is WebhookStyle.ID:
        body: dict[str, Any] = {ID: task_id, STATUS: status_text}
        if succeeded:
            body[RESULT] = result_body
        else:
            body.update({"error": status_text, "message": error})
        body["timestamp"] = _iso_seconds(now)
        return encode_json_safely(body)
    return encode_json_safely(
        {
            "task_id": task_id,
            STATUS: WEBHOOK_SUCCESS if succeeded else WEBHOOK_FAILURE,
            RESULT: result_body,
            "error": None if succeeded else error,
        }
    )


def _iso_seconds(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).isoformat()
