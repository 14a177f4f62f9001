"""Deterministic stand-in for BFL's moderation, driven by the prompt and ``safety_tolerance``.

``safety_tolerance`` runs from 0 (most strict) to 6 (least strict), default 2. A prompt
word listed here is flagged when the request's tolerance is at or below the word's
``up_to`` level: input flags give ``Request Moderated`` (refused at submission), output
flags ``Content Moderated`` (refused after generation). Reasons are strings seen in the
wild under ``details["Moderation Reasons"]``.
"""

from __future__ import annotations

import dataclasses
import re

from mockserver.spec.openapi import TaskStatus


@dataclasses.dataclass(frozen=True, slots=True)
class Flag:
    word: str
    status: TaskStatus
    reason: str
    up_to: int
    """Flagged when safety_tolerance <= up_to."""


FLAGS = (
    Flag("nsfw", TaskStatus.REQUEST_MODERATED, "Safety Filter", 5),
    Flag("explicit", TaskStatus.REQUEST_MODERATED, "Sexual Content", 4),
    Flag("nude", TaskStatus.REQUEST_MODERATED, "Sexual Content", 3),
    Flag("gore", TaskStatus.CONTENT_MODERATED, "Violence", 3),
    Flag("blood", TaskStatus.CONTENT_MODERATED, "Violence", 1),
    Flag("logo", TaskStatus.CONTENT_MODERATED, "Derivative Works Filter", 0),
)
DEFAULT_TOLERANCE = 2
_WORDS = re.compile(r"[a-z]+")


def assess(prompt: str, safety_tolerance: int | None) -> tuple[TaskStatus, tuple[str, ...]] | None:
    """The moderation outcome of a prompt, or None when nothing is flagged.

    Input moderation wins over output moderation, as it runs first.
    """
    tolerance = DEFAULT_TOLERANCE if safety_tolerance is None else safety_tolerance
    lowered = prompt.lower()
    candidates = [flag for flag in FLAGS if tolerance <= flag.up_to and flag.word in lowered]
    if not candidates:
        return None  # the usual case: no listed word anywhere in the prompt
    words = set(_WORDS.findall(lowered))
    hits = [flag for flag in candidates if flag.word in words]
    for status in (TaskStatus.REQUEST_MODERATED, TaskStatus.CONTENT_MODERATED):
        reasons = tuple(dict.fromkeys(flag.reason for flag in hits if flag.status is status))
        if reasons:
            return status, reasons
    return None
