"""Size rules: how big an endpoint's output is, from the request and its inputs.

Each rule is one mechanism with parameters from the endpoint table (``size = {rule = ...}``),
registered by name in ``RULES``. A rule sees the validated body and the media inputs;
when an input it follows is unusable, it falls back to the rule's default size (the task
fails on its first poll anyway).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Protocol

from mockserver.domain.media import Inputs
from mockserver.domain.table_rules import build_rule

DEFAULT_SIDE = 1024
MEGAPIXEL_AREA = DEFAULT_SIDE * DEFAULT_SIDE


class SizeRule(Protocol):
    def size(self, body: Mapping[str, Any], inputs: Inputs) -> tuple[int, int]: ...
    def describe(self) -> str: ...


def parse_ratio(text: Any) -> float | None:
    """``"16:9"`` -> 1.777...; None for anything that is not a positive ratio."""
    if not isinstance(text, str) or ":" not in text:
        return None
    left, _, right = text.partition(":")
    try:
        ratio = float(left) / float(right)
    except (ValueError, ZeroDivisionError):
        return None
    return ratio if math.isfinite(ratio) and ratio > 0 else None


def snap(value: float, step: int) -> int:
    """The nearest multiple of ``step``, at least ``step``."""
    return max(step, round(value / step) * step)


def at_area(ratio: float, area: float, step: int) -> tuple[int, int]:
    """About ``area`` pixels at ``ratio`` (width / height), sides multiples of ``step``."""
    width = math.sqrt(area * ratio)
    return snap(width, step), snap(area / width, step)


def _input_ratio(inputs: Inputs, field: str | None) -> float | None:
    item = inputs.first(field) if field else None
    return None if item is None or not item.height else item.width / item.height


@dataclasses.dataclass(frozen=True, slots=True)
class Requested:
    """``width`` x ``height`` as asked; without them, ``aspect_ratio`` at about 1 MP."""

    name: ClassVar[str] = "requested"
    width: str = "width"
    height: str = "height"
    aspect: str = "aspect_ratio"
    step: int = 32

    def describe(self) -> str:
        return f"{self.width} x {self.height} as asked (else {self.aspect} at ~1 MP, else 1024²)"

    def size(self, body: Mapping[str, Any], inputs: Inputs) -> tuple[int, int]:
        width, height = body.get(self.width), body.get(self.height)
        if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
            return width, height
        ratio = parse_ratio(body.get(self.aspect))
        if ratio is None:
            return DEFAULT_SIDE, DEFAULT_SIDE
        return at_area(ratio, MEGAPIXEL_AREA, self.step)


@dataclasses.dataclass(frozen=True, slots=True)
class AspectArea:
    """A fixed area at the requested aspect ratio (Ultra: about 4 MiP, sides /64)."""

    name: ClassVar[str] = "aspect_area"
    field: str
    area: int
    step: int

    def describe(self) -> str:
        return f"{self.field} at {self.area / 2**20:g} MiP, sides /{self.step}"

    def size(self, body: Mapping[str, Any], inputs: Inputs) -> tuple[int, int]:
        ratio = parse_ratio(body.get(self.field)) or 1.0
        return at_area(ratio, self.area, self.step)


@dataclasses.dataclass(frozen=True, slots=True)
class Buckets:
    """The listed size nearest in shape to ``aspect_ratio``, else to the input, else 1:1."""

    name: ClassVar[str] = "buckets"
    buckets: tuple[tuple[int, int], ...]
    field: str = "aspect_ratio"
    input: str | None = None

    def describe(self) -> str:
        via = f"{self.input} or " if self.input else ""
        return f"~1 MP, the size nearest in shape to {via}{self.field} ({len(self.buckets)} sizes)"

    def size(self, body: Mapping[str, Any], inputs: Inputs) -> tuple[int, int]:
        ratio = parse_ratio(body.get(self.field)) or _input_ratio(inputs, self.input) or 1.0
        return min(self.buckets, key=lambda size: abs(math.log(size[0] / size[1] / ratio)))


@dataclasses.dataclass(frozen=True, slots=True)
class InputSize:
    """The input image's own size (Fill, Erase, Deblur)."""

    name: ClassVar[str] = "input"
    input: str

    def describe(self) -> str:
        return f"the size of {self.input}"

    def size(self, body: Mapping[str, Any], inputs: Inputs) -> tuple[int, int]:
        item = inputs.first(self.input)
        return (item.width, item.height) if item else (DEFAULT_SIDE, DEFAULT_SIDE)


@dataclasses.dataclass(frozen=True, slots=True)
class InputMargins:
    """The input plus margins from the body (Expand: left + right, top + bottom)."""

    name: ClassVar[str] = "input_margins"
    input: str
    add_width: tuple[str, ...]
    add_height: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.input} + {' + '.join(self.add_width)} x + {' + '.join(self.add_height)}"

    def size(self, body: Mapping[str, Any], inputs: Inputs) -> tuple[int, int]:
        width, height = InputSize(self.input).size(body, inputs)
        return (
            width + sum(int(body.get(f) or 0) for f in self.add_width),
            height + sum(int(body.get(f) or 0) for f in self.add_height),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class InputCapped:
    """The input's size up to ``max_area``; larger inputs scaled to about ``area`` (VTO)."""

    name: ClassVar[str] = "input_capped"
    input: str
    max_area: int
    area: int
    step: int = 16

    def describe(self) -> str:
        return (
            f"the size of {self.input}; over {self.max_area / 2**20:g} MiP, "
            f"~{self.area / 2**20:g} MiP at its shape"
        )

    def size(self, body: Mapping[str, Any], inputs: Inputs) -> tuple[int, int]:
        item = inputs.first(self.input)
        if item is None:
            return DEFAULT_SIDE, DEFAULT_SIDE
        if item.area <= self.max_area:
            return item.width, item.height
        return at_area(item.width / item.height, self.area, self.step)


@dataclasses.dataclass(frozen=True, slots=True)
class RequestedOrInput:
    """FLUX.2: ``width`` x ``height``, else the first input image, else ``side`` squared.

    Asked sizes are kept; an input's size, or an asked size over ``max_area``, is scaled
    down to ``max_area`` with sides made multiples of ``step`` (rounded down).
    """

    name: ClassVar[str] = "requested_or_input"
    input: str
    step: int
    max_area: int
    side: int = DEFAULT_SIDE
    width: str = "width"
    height: str = "height"

    def describe(self) -> str:
        return (
            f"{self.width} x {self.height} as asked, else {self.input}, else {self.side}²; "
            f"at most {self.max_area / 2**20:g} MiP"
        )

    def size(self, body: Mapping[str, Any], inputs: Inputs) -> tuple[int, int]:
        width, height = body.get(self.width), body.get(self.height)
        if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
            if width * height <= self.max_area:
                return width, height  # 1920x1080 -> output_mp 1.98 [live OHK]
        else:
            item = inputs.first(self.input)
            width, height = (item.width, item.height) if item else (self.side, self.side)
        # No side outgrows the area with the other at one step: a schema without a maximum
        # lets a client ask for 64 x 10**309, which floats cannot hold.
        longest = self.max_area // self.step
        width, height = min(width, longest), min(height, longest)
        scale = min(1.0, math.sqrt(self.max_area / (width * height)))
        return (
            max(self.step, int(width * scale) // self.step * self.step),
            max(self.step, int(height * scale) // self.step * self.step),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class AreaTiers:
    """An equal-area tier at the requested aspect (FLUX 3 image).

    ``auto`` follows the first reference image, else 1:1.
    """

    name: ClassVar[str] = "area_tiers"
    field: str
    aspect_field: str
    tiers: Mapping[str, int]
    step: int = 16
    input: str | None = None

    def describe(self) -> str:
        return f"{self.field} tier's area at {self.aspect_field} (auto: first image, else 1:1)"

    def size(self, body: Mapping[str, Any], inputs: Inputs) -> tuple[int, int]:
        area = self.tiers.get(str(body.get(self.field)), MEGAPIXEL_AREA)
        ratio = parse_ratio(body.get(self.aspect_field)) or _input_ratio(inputs, self.input) or 1.0
        return at_area(ratio, area, self.step)


@dataclasses.dataclass(frozen=True, slots=True)
class Table:
    """A published table of sizes by class and aspect (FLUX 3 video).

    ``auto`` takes the aspect nearest the first keyframe or the source video, else
    ``auto``'s default.
    """

    name: ClassVar[str] = "table"
    field: str
    aspect_field: str
    table: Mapping[str, Mapping[str, tuple[int, int]]]
    auto: str
    input: str | None = None
    source: str | None = None

    def describe(self) -> str:
        return f"the published {self.field} x {self.aspect_field} table (auto: {self.auto})"

    def size(self, body: Mapping[str, Any], inputs: Inputs) -> tuple[int, int]:
        sizes = self.table.get(str(body.get(self.field))) or next(iter(self.table.values()))
        aspect = str(body.get(self.aspect_field))
        if aspect not in sizes:
            # "auto", or a replayed draft's "W:H": the listed shape nearest to it, to the
            # first keyframe or to the source clip; else auto's default.
            ratio = (
                parse_ratio(aspect)
                or _input_ratio(inputs, self.input)
                or _input_ratio(inputs, self.source)
            )
            aspect = self.auto if ratio is None else self.nearest(sizes, ratio)
        width, height = sizes[aspect]
        return width, height

    @staticmethod
    def nearest(sizes: Mapping[str, tuple[int, int]], ratio: float) -> str:
        return min(sizes, key=lambda name: abs(math.log(sizes[name][0] / sizes[name][1] / ratio)))


@dataclasses.dataclass(frozen=True, slots=True)
class SourceVideo:
    """The source clip's size, at most 720p (Video Edit).

    A clip whose short side is over ``max_short_side`` is scaled to ``short_side``, the
    long side to a multiple of ``step``.
    """

    name: ClassVar[str] = "source_video"
    input: str
    max_short_side: int
    short_side: int
    step: int

    def describe(self) -> str:
        return f"the size of {self.input}; over {self.max_short_side}p, {self.short_side}p"

    def size(self, body: Mapping[str, Any], inputs: Inputs) -> tuple[int, int]:
        item = inputs.first(self.input)
        if item is None:
            return 1280, 704
        width, height = item.width, item.height
        if min(width, height) <= self.max_short_side:
            return width - width % 2, height - height % 2
        long_side = snap(max(width, height) * self.short_side / min(width, height), self.step)
        return (long_side, self.short_side) if width >= height else (self.short_side, long_side)


@dataclasses.dataclass(frozen=True, slots=True)
class ScaledSource:
    """The source clip times a factor, the frame capped at ``max_area`` (Video Upscale)."""

    name: ClassVar[str] = "scaled_source"
    input: str
    factor_field: str
    max_area: int
    step: int = 2

    def describe(self) -> str:
        return f"{self.input} x {self.factor_field}, at most {self.max_area / 2**20:g} MiP"

    def size(self, body: Mapping[str, Any], inputs: Inputs) -> tuple[int, int]:
        item = inputs.first(self.input)
        width, height = (item.width, item.height) if item else (1280, 704)
        factor = float(body.get(self.factor_field) or 2.0)
        factor = min(factor, math.sqrt(self.max_area / (width * height)))
        return (
            int(width * factor) // self.step * self.step,
            int(height * factor) // self.step * self.step,
        )


RULES: Mapping[str, Callable[..., SizeRule]] = {
    rule.name: rule
    for rule in (
        Requested,
        AspectArea,
        Buckets,
        InputSize,
        InputMargins,
        InputCapped,
        RequestedOrInput,
        AreaTiers,
        Table,
        SourceVideo,
        ScaledSource,
    )
}


def build(raw: Mapping[str, Any]) -> SizeRule:
    """The rule a table row names, with its parameters (``KeyError`` for an unknown one)."""
    return build_rule(raw, key="rule", family=RULES, kind="size rule")
