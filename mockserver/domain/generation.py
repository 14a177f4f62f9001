"""What a validated submit asks for, planned into one typed value: ``Generation``.

``plan`` reads a validated body (defaults applied) with its endpoint's row of the
behaviour table and its decoded media: the output's size, length and format, the price,
what the submit answer says about cost, how the task progresses, what ``result.prompt``
will say, and whether a business rule refuses the request or fails the task.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping
from typing import Any

from mockserver.domain import checks
from mockserver.domain.checks import OUTPUT_FORMAT
from mockserver.domain.drafts import REPLAYED_FIELDS
from mockserver.domain.endpoints import EndpointBehaviour, Media, Progress, PromptRule, SubmitCost
from mockserver.domain.media import Inputs
from mockserver.domain.pricing import Order, Price
from mockserver.spec.openapi import TaskStatus

PROMPT = "prompt"
SEED = "seed"
SAFETY_TOLERANCE = "safety_tolerance"
WEBHOOK_URL = "webhook_url"
WEBHOOK_SECRET = "webhook_secret"
DRAFT = "draft"
ASPECT_RATIO = "aspect_ratio"
DURATION = "duration"


@dataclasses.dataclass(frozen=True, slots=True)
class Generation:
    """One planned generation: everything the task's life and its answers depend on."""

    endpoint: str
    api_key: str | None
    prompt: str
    result_prompt: str
    """What ``result.prompt`` shows (upsampled, expanded or prefixed, per the endpoint)."""
    seed: int | None
    width: int
    height: int
    output_format: str
    quote: Price
    """Credits charged when the task is Ready (the settled cost, for video), with the
    megapixels in and out."""
    media: Media = Media.IMAGE
    duration: float | None = None
    """Seconds of video."""
    audio: bool = False
    draft: bool = False
    safety_tolerance: int | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    quoted_on_submit: bool = False
    """The submit answer carries the quote (else null cost and megapixels)."""
    working: tuple[TaskStatus, ...] = (TaskStatus.PENDING,)
    """Working statuses in order, before the final one."""
    tenths: bool = True
    """Whether ``progress`` counts in tenths while working (else null)."""
    active_limit: int | None = None
    """Unfinished tasks of this endpoint one key may have (None: only the server's limit)."""
    failure: str | None = None
    """An input the task cannot use: it ends in Error with this ``details.error``."""
    failure_status: int = 200
    """The HTTP status of that Error poll."""
    sources: tuple[bytes, ...] = ()
    """Thumbnails of the inputs, for an output that shows what it was made from."""
    draft_fields: Mapping[str, Any] | None = None
    """What a draft's bundle pins, to replay it later (draft_enhance)."""

    @property
    def price(self) -> float:
        return self.quote.cost


@dataclasses.dataclass(frozen=True, slots=True)
class Refused:
    """The submit is refused by a business rule: status, message, and the field it is about."""

    status: int
    detail: str
    field: str | None = None


def _output_format(behaviour: EndpointBehaviour, effective: Mapping[str, Any]) -> str:
    if behaviour.media is Media.VIDEO:
        return behaviour.default_format
    return str(effective.get(OUTPUT_FORMAT) or behaviour.default_format)


def plan(
    body: Mapping[str, Any],
    behaviour: EndpointBehaviour,
    inputs: Inputs,
    *,
    api_key: str | None,
    statuses: Mapping[TaskStatus, str],
    price_override: float | None = None,
    replay: Mapping[str, Any] | None = None,
    prompt_limit: int | None = None,
) -> Generation | Refused:
    """Plan the generation ``body`` asks for (``replay``: the fields a draft bundle holds).

    The task keeps the first ``prompt_limit`` characters of the prompt.
    """
    effective = {**replay, **body} if replay else dict(body)
    if effective.get(PROMPT):
        effective[PROMPT] = str(effective[PROMPT])[:prompt_limit]
    width, height = behaviour.size.size(effective, inputs)
    breach = checks.first_breach(behaviour.checks, checks.Subject(effective, inputs, width, height))
    if breach is not None and breach.outcome is checks.Outcome.REFUSE:
        return Refused(breach.status, breach.message, breach.field)
    duration = _duration(behaviour, effective, inputs)
    order = Order(effective, width, height, duration, inputs.images)
    price = behaviour.formula_for(effective).price(order)
    if price_override is not None:
        price = dataclasses.replace(price, cost=price_override)
    failure = inputs.problem or (breach.message if breach else None)
    prompt = str(effective.get(PROMPT) or "")
    is_video = behaviour.media is Media.VIDEO
    return Generation(
        endpoint=behaviour.path,
        api_key=api_key,
        prompt=prompt,
        result_prompt=result_prompt(behaviour, effective, prompt),
        seed=effective.get(SEED),
        width=width,
        height=height,
        output_format=_output_format(behaviour, effective),
        quote=price,
        media=behaviour.media,
        duration=duration,
        audio=is_video and _audio(behaviour, effective, inputs),
        draft=effective.get(DRAFT) is True,
        safety_tolerance=effective.get(SAFETY_TOLERANCE),
        webhook_url=body.get(WEBHOOK_URL),
        webhook_secret=body.get(WEBHOOK_SECRET),
        quoted_on_submit=behaviour.submit_cost is SubmitCost.NUMERIC,
        working=working_statuses(behaviour, statuses),
        tenths=behaviour.progress is Progress.TENTHS,
        active_limit=behaviour.active_limit,
        failure=failure,
        failure_status=behaviour.failed_input_status,
        sources=tuple(item.thumbnail for item in inputs.images if item.thumbnail),
        draft_fields=_draft_fields(effective, width, height, duration)
        if effective.get(DRAFT) is True
        else None,
    )


def _draft_fields(
    body: Mapping[str, Any], width: int, height: int, duration: float | None
) -> dict[str, Any]:
    """The request as a later full render must reproduce it: the shape and length it got."""
    fields = {name: body[name] for name in REPLAYED_FIELDS if body.get(name) is not None}
    divisor = math.gcd(width, height)
    fields[ASPECT_RATIO] = f"{width // divisor}:{height // divisor}"
    if duration is not None:
        fields[DURATION] = int(duration)
    return fields


def working_statuses(
    behaviour: EndpointBehaviour, statuses: Mapping[TaskStatus, str]
) -> tuple[TaskStatus, ...]:
    """The row's working statuses the served spec spells, in order (at least Pending)."""
    return _working_statuses(behaviour.statuses, frozenset(statuses))


@functools.lru_cache(maxsize=256)
def _working_statuses(
    texts: tuple[str, ...], spelled: frozenset[TaskStatus]
) -> tuple[TaskStatus, ...]:
    # The same few answers on every submit: worked out once per row and spec.
    by_name = {status.name: status for status in spelled}
    found = tuple(
        by_name[name] for name in (_constant_name(text) for text in texts) if name in by_name
    )
    return found or (TaskStatus.PENDING,)


def _constant_name(text: str) -> str:
    return "_".join(text.upper().replace("-", " ").split())


def _duration(
    behaviour: EndpointBehaviour, body: Mapping[str, Any], inputs: Inputs
) -> float | None:
    rule = behaviour.duration
    if rule is None or behaviour.media is not Media.VIDEO:
        return None
    if rule.source is not None:
        source = inputs.first(rule.source)
        seconds = source.duration if source and source.duration else rule.auto
        return round(min(seconds, rule.max), 2)
    asked = body.get(rule.field) if rule.field else None
    if isinstance(asked, (int, float)) and not isinstance(asked, bool):
        return float(asked)
    if rule.keyframes is not None:
        timed = [item.at for item in inputs.of(rule.keyframes) if item.at is not None]
        if timed:
            return float(min(rule.max, max(1, math.ceil(max(timed)))))
    return float(rule.auto)


def _audio(behaviour: EndpointBehaviour, body: Mapping[str, Any], inputs: Inputs) -> bool:
    if behaviour.audio_field is not None:
        return body.get(behaviour.audio_field) is not False
    if behaviour.duration is not None and behaviour.duration.source is not None:
        source = inputs.first(behaviour.duration.source)
        return bool(source and source.has_audio)
    return False


def result_prompt(behaviour: EndpointBehaviour, body: Mapping[str, Any], prompt: str) -> str:
    """``result.prompt`` as the real API returns it for this endpoint and request."""
    rule, argument = behaviour.prompt.rule, behaviour.prompt.argument
    if rule is PromptRule.EXPANDED:
        return upsampled(prompt)
    if rule is PromptRule.UPSAMPLED_WHEN and body.get(argument) is True:
        return upsampled(prompt)
    if rule is PromptRule.UPSAMPLED_UNLESS and body.get(argument) is not True:
        return upsampled(prompt)
    if rule is PromptRule.PREFIXED:
        return argument + prompt
    return prompt


def upsampled(prompt: str) -> str:
    """A deterministic stand-in for the real API's prompt rewriting (upsampling, expansion)."""
    subject = prompt.strip() or "an image"
    return f"a detailed photograph of {subject}, natural light, sharp focus, rich colours"
