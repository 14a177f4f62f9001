"""Business rules BFL checks in code, beyond what its schemas say.

Each check is one mechanism with parameters from the endpoint table (``checks = [...]``),
registered by name in ``CHECKS``. A broken rule either refuses the submit (``status``:
``{"detail": message}``, as a FastAPI handler raising ``HTTPException`` answers) or lets
it through and fails the task (``outcome = "error"``: an Error poll with the message).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Protocol

from mockserver.domain.conditions import When
from mockserver.domain.media import Encoding, Inputs, MediaInput
from mockserver.domain.sizing import parse_ratio
from mockserver.domain.table_rules import build_rule


class Outcome(enum.Enum):
    REFUSE = "refuse"
    """Answer the submit with ``status`` and the message."""
    ERROR = "error"
    """Accept the submit; the task ends in Error with the message."""


@dataclasses.dataclass(frozen=True, slots=True)
class Breach:
    """A rule the request breaks, and what the mock does about it."""

    outcome: Outcome
    status: int
    message: str
    field: str | None = None
    """The one field the rule is about (a 422 names it in ``loc``), if it is about one."""


@dataclasses.dataclass(frozen=True, slots=True)
class Subject:
    """What a check looks at: the body, its media and the planned output size."""

    body: Mapping[str, Any]
    inputs: Inputs
    width: int
    height: int

    def media(self, field: str) -> tuple[MediaInput, ...]:
        return tuple(item for item in self.inputs.of(field) if item.usable)


class Check(Protocol):
    def breach(self, subject: Subject) -> Breach | None: ...


@dataclasses.dataclass(frozen=True, slots=True)
class Rule:
    """What every check shares: when it applies and what breaking it does."""

    message: str
    status: int = 422
    outcome: Outcome = Outcome.REFUSE
    when: When = When()

    def applies(self, subject: Subject) -> bool:
        return self.when.matches(subject.body)

    def broken(self, field: str | None = None, **values: object) -> Breach:
        """The breach, its message filled in with ``values`` when the rule gives any."""
        message = self.message.format(**values) if values else self.message
        return Breach(self.outcome, self.status, message, field)


@dataclasses.dataclass(frozen=True, slots=True)
class SameSize(Rule):
    """The images of these fields must have one size (a mask matches its image)."""

    name: ClassVar[str] = "same_size"
    fields: tuple[str, ...] = ()

    def breach(self, subject: Subject) -> Breach | None:
        sizes = {(i.width, i.height) for f in self.fields for i in subject.media(f)}
        return self.broken() if self.applies(subject) and len(sizes) > 1 else None


@dataclasses.dataclass(frozen=True, slots=True)
class MaxArea(Rule):
    """The output (``of = "output"``) or each image of a field has at most ``limit`` pixels."""

    name: ClassVar[str] = "max_area"
    of: str = "output"
    limit: int = 0

    def breach(self, subject: Subject) -> Breach | None:
        if not self.applies(subject):
            return None
        if self.of == "output":
            areas = [subject.width * subject.height]
        else:
            areas = [item.area for item in subject.media(self.of)]
        return self.broken() if any(area > self.limit for area in areas) else None


@dataclasses.dataclass(frozen=True, slots=True)
class MinSide(Rule):
    """Each image (or video) of a field is at least ``limit`` pixels on each side."""

    name: ClassVar[str] = "min_side"
    input: str = ""
    limit: int = 0

    def breach(self, subject: Subject) -> Breach | None:
        small = any(min(item.width, item.height) < self.limit for item in subject.media(self.input))
        return self.broken() if self.applies(subject) and small else None


@dataclasses.dataclass(frozen=True, slots=True)
class MaxCount(Rule):
    """At most ``limit`` values in a field."""

    name: ClassVar[str] = "max_count"
    input: str = ""
    limit: int = 0

    def breach(self, subject: Subject) -> Breach | None:
        many = len(subject.inputs.of(self.input)) > self.limit
        return self.broken() if self.applies(subject) and many else None


@dataclasses.dataclass(frozen=True, slots=True)
class MaxDuration(Rule):
    """A video field's clip lasts at most ``limit`` seconds."""

    name: ClassVar[str] = "max_duration"
    input: str = ""
    limit: float = 0.0

    def breach(self, subject: Subject) -> Breach | None:
        long = any((item.duration or 0.0) > self.limit for item in subject.media(self.input))
        return self.broken() if self.applies(subject) and long else None


@dataclasses.dataclass(frozen=True, slots=True)
class PlacedInside(Rule):
    """An image placed at the offsets (None: centred) lies within the output.

    Not checked when the ``unless`` field is true (outpainting's ``auto_crop``).
    """

    name: ClassVar[str] = "placed_inside"
    input: str = ""
    offset: tuple[str, str] = ("", "")
    unless: str | None = None

    def breach(self, subject: Subject) -> Breach | None:
        if not self.applies(subject) or (self.unless and subject.body.get(self.unless)):
            return None
        for item in subject.media(self.input):
            x, y = (subject.body.get(name) for name in self.offset)
            left = (subject.width - item.width) // 2 if x is None else int(x)
            top = (subject.height - item.height) // 2 if y is None else int(y)
            inside = (
                left >= 0
                and top >= 0
                and left + item.width <= subject.width
                and top + item.height <= subject.height
            )
            if not inside:
                return self.broken()
        return None


@dataclasses.dataclass(frozen=True, slots=True)
class NotUrl(Rule):
    """A field must carry its media inline (base64), not as a URL."""

    name: ClassVar[str] = "not_url"
    input: str = ""

    def breach(self, subject: Subject) -> Breach | None:
        urls = any(item.encoding is Encoding.URL for item in subject.inputs.of(self.input))
        return self.broken() if self.applies(subject) and urls else None


@dataclasses.dataclass(frozen=True, slots=True)
class Equals(Rule):
    """A field must have ``value`` (under ``when``: draft renders hd only)."""

    name: ClassVar[str] = "equals"
    field: str = ""
    value: Any = None

    def breach(self, subject: Subject) -> Breach | None:
        differs = subject.body.get(self.field) != self.value
        return self.broken(self.field) if self.applies(subject) and differs else None


@dataclasses.dataclass(frozen=True, slots=True)
class RatioBetween(Rule):
    """An ``"W:H"`` field, when set, must be a ratio between ``low`` and ``high``."""

    name: ClassVar[str] = "ratio_between"
    field: str = ""
    low: str = "1:1"
    high: str = "1:1"

    def breach(self, subject: Subject) -> Breach | None:
        value = subject.body.get(self.field)
        if not self.applies(subject) or value is None:
            return None
        ratio, low, high = parse_ratio(value), parse_ratio(self.low), parse_ratio(self.high)
        assert low is not None and high is not None
        within = ratio is not None and low - 1e-9 <= ratio <= high + 1e-9
        return None if within else self.broken(self.field)


OUTPUT_FORMAT = "output_format"
"""The body field an image's format is asked in."""

FORMAT_MAX_SIDE: Mapping[str, int] = {"webp": 16383, "jpeg": 65535}
"""The longest side each image format can hold (WebP's and JPEG's own limits)."""


@dataclasses.dataclass(frozen=True, slots=True)
class MaxSide(Rule):
    """The output fits its format: no side longer than ``FORMAT_MAX_SIDE`` allows.

    The format is the ``field`` asked for, else the row's ``default``; the endpoint
    table adds this check to every image row.
    """

    name: ClassVar[str] = "max_side"
    message: str = (
        "A {format} image holds at most {most} pixels a side, not {width}x{height}: "
        "ask for another size or output_format"
    )
    field: str = OUTPUT_FORMAT
    default: str = ""

    def breach(self, subject: Subject) -> Breach | None:
        output_format = str(subject.body.get(self.field) or self.default)
        most = FORMAT_MAX_SIDE.get(output_format)
        if not self.applies(subject) or most is None:
            return None
        if max(subject.width, subject.height) <= most:
            return None
        size = {"width": subject.width, "height": subject.height}
        return self.broken(self.field, format=output_format, most=most, **size)


CHECKS: Mapping[str, Callable[..., Check]] = {
    check.name: check
    for check in (
        SameSize,
        MaxArea,
        MinSide,
        MaxCount,
        MaxDuration,
        PlacedInside,
        NotUrl,
        Equals,
        RatioBetween,
        MaxSide,
    )
}


def build(raw: Mapping[str, Any]) -> Check:
    """The check a table row names, with its parameters (``KeyError`` for an unknown one)."""
    return build_rule(
        raw, key="check", family=CHECKS, kind="check", read={"when": When.parse, "outcome": Outcome}
    )


def first_breach(checks: tuple[Check, ...], subject: Subject) -> Breach | None:
    """The first rule broken, refusals before failures (the submit is refused first)."""
    failure = None
    for check in checks:
        breach = check.breach(subject)
        if breach is not None and breach.outcome is Outcome.REFUSE:
            return breach
        failure = failure or breach
    return failure
