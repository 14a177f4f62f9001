"""What a webhook says: the payload of an ended task, and the headers that sign it."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from mockserver.render import bodies, webhook_payloads
from mockserver.settings import MockSettings, WebhookSignature
from mockserver.spec.openapi import TaskStatus
from mockserver.state.records import Task

CONTENT_TYPE = ("content-type", "application/json")


def payload(
    settings: MockSettings,
    renderer: bodies.Renderer,
    task: Task,
    result: Callable[[], bodies.SampleResult],
    now: float,
) -> bytes:
    """The JSON body for ``task``, ended (``result`` makes its result, if it is Ready)."""
    succeeded = task.status is TaskStatus.READY
    error = None
    if not succeeded:
        shown = task.shown_outcome
        message = shown.error if shown is not None else None
        error = message or renderer.status_text(task.status)
    return webhook_payloads.webhook_payload(
        settings.webhook_style,
        task_id=task.id,
        status_text=renderer.status_text(task.status),
        succeeded=succeeded,
        result=result() if succeeded else None,
        error=error,
        now=now,
    )


def headers(settings: MockSettings, task: Task, body: bytes) -> list[tuple[str, str]]:
    """The content type, and the secret or its signature of ``body`` as the settings say."""
    secret = task.generation.webhook_secret
    scheme = settings.webhook_signature
    if not secret or scheme is WebhookSignature.NONE:
        return [CONTENT_TYPE]
    if scheme is WebhookSignature.HMAC_SHA256:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        value = f"sha256={digest}"
    else:
        value = secret
    return [CONTENT_TYPE, (settings.webhook_signature_header, value)]
