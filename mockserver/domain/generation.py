"""What a validated submit asks for, as one typed value.

Only the fields that change the mock's behaviour are typed here; the validated body
as a whole stays in the journal. Field names are the ones BFL's generation schemas
share; an endpoint without ``width``/``height`` gets its size from ``aspect_ratio``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

PROMPT = "prompt"
SEED = "seed"
WIDTH = "width"
HEIGHT = "height"
ASPECT_RATIO = "aspect_ratio"
OUTPUT_FORMAT = "output_format"
SAFETY_TOLERANCE = "safety_tolerance"
PROMPT_UPSAMPLING = "prompt_upsampling"
WEBHOOK_URL = "webhook_url"
WEBHOOK_SECRET = "webhook_secret"

DEFAULT_FORMAT = "jpeg"
DEFAULT_SIDE = 1024
SIZE_STEP = 32
"""Sizes derived from an aspect ratio are rounded to this, as FLUX sizes are."""


@dataclasses.dataclass(frozen=True, slots=True)
class Generation:
    endpoint: str
    api_key: str | None
    prompt: str
    seed: int | None
    width: int
    height: int
    output_format: str
    safety_tolerance: int | None
    prompt_upsampling: bool
    webhook_url: str | None
    webhook_secret: str | None
    price: float

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1_000_000


def read_generation(
    body: Mapping[str, Any], *, endpoint: str, api_key: str | None, price: float
) -> Generation:
    """Pick the behaviour-changing fields out of a validated body (defaults applied)."""
    width, height = image_size(body)
    return Generation(
        endpoint=endpoint,
        api_key=api_key,
        prompt=body.get(PROMPT) or "",
        seed=body.get(SEED),
        width=width,
        height=height,
        output_format=body.get(OUTPUT_FORMAT) or DEFAULT_FORMAT,
        safety_tolerance=body.get(SAFETY_TOLERANCE),
        prompt_upsampling=bool(body.get(PROMPT_UPSAMPLING)),
        webhook_url=body.get(WEBHOOK_URL),
        webhook_secret=body.get(WEBHOOK_SECRET),
        price=price,
    )


def image_size(body: Mapping[str, Any]) -> tuple[int, int]:
    """Explicit width/height when given (0 means "unset" on FLUX.2), else the aspect ratio."""
    width, height = body.get(WIDTH), body.get(HEIGHT)
    if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
        return width, height
    ratio = _parse_ratio(body.get(ASPECT_RATIO))
    if ratio is None:
        return DEFAULT_SIDE, DEFAULT_SIDE
    # About one megapixel at the requested shape, each side a multiple of SIZE_STEP.
    area = DEFAULT_SIDE * DEFAULT_SIDE
    side_w = math.sqrt(area * ratio)
    return _round_step(side_w), _round_step(area / side_w)


def _parse_ratio(text: Any) -> float | None:
    if not isinstance(text, str) or ":" not in text:
        return None
    left, _, right = text.partition(":")
    try:
        ratio = float(left) / float(right)
    except (ValueError, ZeroDivisionError):
        return None
    return ratio if math.isfinite(ratio) and 1 / 21 <= ratio <= 21 else None


def _round_step(value: float) -> int:
    return max(SIZE_STEP, round(value / SIZE_STEP) * SIZE_STEP)


def upsampled(prompt: str) -> str:
    """A deterministic stand-in for the real API's prompt rewriting (``prompt_upsampling``)."""
    subject = prompt.strip() or "an image"
    return f"a detailed photograph of {subject}, natural light, sharp focus, rich colours"
