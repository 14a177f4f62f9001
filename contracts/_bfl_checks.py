"""BFL's invariants the schema cannot express, registered by name in ``checks.CHECKS``."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image, UnidentifiedImageError

from contracts._contract import (
    DETAIL,
    ID,
    LOC,
    POLLING_URL,
    RESULT,
    SAMPLE,
    STATUS,
    WEBHOOK_URL,
    Contract,
)
from contracts._exchanges import Exchange, Response
from contracts.checks import CHECKS, ContractViolation, Needs
from mockserver.render.video import FPS as VIDEO_FPS
from mockserver.render.video import UndecodableVideo, probe_video
from mockserver.spec.openapi import TaskStatus

VIDEO_CODEC = "h264"


@CHECKS.register(needs=Needs.FOLLOWED_SUBMIT)
def polling_url_is_followable(contract: Contract, exchange: Exchange) -> bool:
    """A submit's ``polling_url`` is an absolute URL that answers a poll of the same task."""
    submitted = _submitted(exchange)
    if submitted is None:
        return False
    url = submitted.get(POLLING_URL)
    if url is None:
        if not _asked_for_webhook(exchange):
            raise ContractViolation(
                f"a submit without webhook_url was answered with no polling_url: "
                f"{exchange.response.describe()}"
            )
        return False  # the webhook branch (AsyncWebhookResponse) has no polling_url
    if not exchange.followed:
        return False
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ContractViolation(f"polling_url is not an absolute http(s) URL: {url!r}")
    if exchange.poll_error is not None:
        raise ContractViolation(f"polling_url {url} could not be followed: {exchange.poll_error}")
    first = exchange.polls[0]
    if first.status != 200:
        raise ContractViolation(f"GET polling_url {url} answered {first.describe()}")
    body = _json_or_violation(first, f"GET polling_url {url}")
    schema = contract.response_schema(contract.result_operation, 200)
    problems = contract.errors(body, schema) if schema is not None else ()
    if problems:
        raise ContractViolation(
            f"GET polling_url {url} answered a body the spec does not allow: {problems[0]}"
        )
    if body.get(ID) != submitted.get(ID):
        raise ContractViolation(
            f"polling_url {url} answers for task {body.get(ID)!r}, not {submitted.get(ID)!r}"
        )
    return True


@CHECKS.register(needs=Needs.FOLLOWED_SUBMIT)
def lifecycle_reaches_final_status(contract: Contract, exchange: Exchange) -> bool:
    """Polling a submitted task reaches a final status within a bounded number of polls."""
    submitted = _submitted(exchange)
    if submitted is None or not exchange.followed or not exchange.polls:
        return False
    finals = contract.final_statuses
    seen = [poll.field(STATUS) for poll in exchange.polls]
    if any(status in finals for status in seen):
        return True
    last = exchange.polls[-1]
    if last.status != 200:
        raise ContractViolation(
            f"polling {submitted.get(POLLING_URL)} answered {last.describe()} "
            f"before the task reached a final status"
        )
    raise ContractViolation(
        f"task {submitted.get(ID)} did not reach a final status ({', '.join(sorted(finals))}) "
        f"within {len(exchange.polls)} polls: statuses seen {_runs(seen)}"
    )


@CHECKS.register(needs=Needs.FOLLOWED_SUBMIT)
def ready_sample_is_requested_image(contract: Contract, exchange: Exchange) -> bool:
    """A Ready task's ``result.sample`` downloads as the image (or video) the request asked for.

    Size, format and, for a video, codec, frame rate, length and audio, as the endpoint
    table predicts them from the request.
    """
    ready = contract.status(TaskStatus.READY)
    final = next((p for p in exchange.polls if p.field(STATUS) == ready), None)
    if final is None:
        return False
    result = final.json().get(RESULT)
    url = result.get(SAMPLE) if isinstance(result, dict) else None
    if not isinstance(url, str):
        raise ContractViolation(f"a Ready task has no result.sample URL: result={result!r}")
    if exchange.sample_error is not None or exchange.sample is None:
        raise ContractViolation(
            f"result.sample {url} could not be fetched: {exchange.sample_error}"
        )
    sample = exchange.sample
    if sample.status != 200:
        raise ContractViolation(f"GET result.sample {url} answered {sample.status}")
    if exchange.requested_video:
        return _is_requested_video(exchange, url, sample.content)
    try:
        image = Image.open(io.BytesIO(sample.content))
        image.load()
    except (UnidentifiedImageError, OSError) as error:
        raise ContractViolation(f"result.sample {url} is not an image: {error}") from None
    fmt = (image.format or "").lower()
    wanted_format = exchange.requested_format
    if wanted_format is not None and fmt not in _FORMAT_NAMES.get(wanted_format, {wanted_format}):
        raise ContractViolation(
            f"result.sample is a {image.format} image; the request asked for {wanted_format}"
        )
    _same_size(exchange, image.size, "result.sample")
    return True


def _is_requested_video(exchange: Exchange, url: str, content: bytes) -> bool:
    """An MP4 of H.264 at 24 fps, of the predicted size and length, with audio if asked."""
    try:
        info = probe_video(content)
    except UndecodableVideo as error:
        raise ContractViolation(f"result.sample {url} is not a video: {error}") from None
    if info.codec != VIDEO_CODEC or round(info.fps) != VIDEO_FPS:
        raise ContractViolation(
            f"result.sample is {info.codec} at {info.fps:g} fps; BFL delivers "
            f"{VIDEO_CODEC} at {VIDEO_FPS} fps"
        )
    _same_size(exchange, (info.width, info.height), "result.sample")
    wanted = exchange.requested_duration
    if wanted is not None and abs(info.duration - wanted) > 1 / VIDEO_FPS + 1e-6:
        raise ContractViolation(
            f"result.sample lasts {info.duration:g} s; the request asked for {wanted:g} s"
        )
    if exchange.requested_audio is not None and info.has_audio != exchange.requested_audio:
        asked = "with" if exchange.requested_audio else "without"
        raise ContractViolation(f"result.sample's audio does not match: asked {asked} audio")
    return True


def _same_size(exchange: Exchange, size: tuple[int, int], what: str) -> None:
    if exchange.requested_size is not None and size != exchange.requested_size:
        (width, height), (got_w, got_h) = exchange.requested_size, size
        raise ContractViolation(
            f"{what} is {got_w}x{got_h}; the request asked for {width}x{height}"
        )


@CHECKS.register(needs=Needs.INVALID_REQUEST)
def validation_error_names_broken_field(contract: Contract, exchange: Exchange) -> bool:
    """A request that breaks one constraint gets a 422 whose ``loc`` names the broken field."""
    broken = exchange.broken
    if broken is None:
        return False
    response = exchange.response
    if response.status != 422:
        raise ContractViolation(f"{broken}: expected 422, got {response.describe()}")
    body = _json_or_violation(response, "the 422")
    detail = body.get(DETAIL) if isinstance(body, dict) else None
    if not isinstance(detail, list):
        raise ContractViolation(
            f"{broken}: the 422 has no list of errors in 'detail': {response.describe()}"
        )
    locs = [tuple(entry.get(LOC) or ()) for entry in detail if isinstance(entry, dict)]
    if not any(loc[: len(broken.loc)] == broken.loc for loc in locs):
        named = ", ".join(".".join(map(str, loc)) for loc in locs) or "nothing"
        raise ContractViolation(f"{broken}: the 422 names {named}, not {broken.field}")
    return True


# Pillow's format names for the API's output_format values that differ from them.
_FORMAT_NAMES = {"jpeg": {"jpeg", "mpo"}, "jpg": {"jpeg", "mpo"}}


def _submitted(exchange: Exchange) -> dict[str, Any] | None:
    if exchange.broken is not None or exchange.response.status != 200:
        return None
    try:
        body = exchange.response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _asked_for_webhook(exchange: Exchange) -> bool:
    body = exchange.request.body
    return isinstance(body, dict) and body.get(WEBHOOK_URL) is not None


def _json_or_violation(response: Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ContractViolation(f"{what} is not JSON: {response.describe()}") from None


def _runs(statuses: list[str | None]) -> str:
    """``Pending x30`` rather than thirty words."""
    runs: list[tuple[str | None, int]] = []
    for status in statuses:
        if runs and runs[-1][0] == status:
            runs[-1] = (status, runs[-1][1] + 1)
        else:
            runs.append((status, 1))
    return ", ".join(f"{status} x{count}" if count > 1 else str(status) for status, count in runs)
