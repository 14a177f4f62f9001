"""Scenarios: which outcome a task reaches and which faults the mock injects.

One mechanism, reachable four ways, all parsed here from the same directive text:

- in the prompt: ``"a fox [mock:content-moderated]"`` (any client, any language);
- in a header: ``x-bfl-mock: poll-503=2, latency=0.2``;
- for the whole server: ``--scenario``, the admin API, or ``MockServer.scenario(...)``.

A directive is ``name`` or ``name=value``; several are separated by commas. The more
specific source wins: prompt over header over server.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
import random
import re
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

from mockserver.errors import MockServerError
from mockserver.spec.openapi import TaskStatus

PROMPT_TAG = "[mock:"
PROMPT_DIRECTIVE = re.compile(re.escape(PROMPT_TAG) + r"([^\]]*)\]")
HEADER = "x-bfl-mock"
MAX_LATENCY_SECONDS = 300.0
"""Injected delays are capped, so a long-tailed draw cannot hang a test run: a larger
value or draw is cut to it."""
MAX_SLOW_SECONDS = 300.0
"""A trickled reply takes at most this long (a stop cuts it sooner: shutdown_grace_seconds)."""
MAX_LOGNORMAL_SIGMA = 10.0
"""Beyond it nearly every draw is 0 or the cap: a mistake, not a distribution."""


class DirectiveError(MockServerError):
    """A directive the mock does not know, or with a value it cannot use."""


class Target(enum.Enum):
    """The kind of exchange a fault applies to."""

    SUBMIT = "submit"
    POLL = "poll"
    IMAGE = "image"


@dataclasses.dataclass(frozen=True, slots=True)
class Latency:
    """A delay in seconds: fixed, or drawn from a distribution."""

    kind: str
    a: float
    b: float = 0.0

    def draw(self, rng: random.Random) -> float:
        if self.kind == "uniform":
            seconds = rng.uniform(self.a, self.b)
        elif self.kind == "lognormal":
            seconds = rng.lognormvariate(self.a, self.b)
        else:
            seconds = self.a
        return min(seconds, MAX_LATENCY_SECONDS)


@dataclasses.dataclass(frozen=True, slots=True)
class Fault:
    """What goes wrong with one kind of exchange. ``None`` fields are "not set"."""

    status: int | None = None
    times: int | None = None
    """How many exchanges the status applies to; None for all of them."""
    latency: Latency | None = None
    slow: float | None = None
    """Seconds over which the response body trickles out."""
    drop: bool | None = None
    """Close the connection in the middle of the response."""

    def merged(self, other: Fault) -> Fault:
        return Fault(**{name: _pick(self, other, name) for name in _FAULT_FIELDS})


_FAULT_FIELDS = tuple(field.name for field in dataclasses.fields(Fault))


@dataclasses.dataclass(frozen=True, slots=True)
class Scenario:
    outcome: TaskStatus | None = None
    """Final status of tasks submitted under this scenario; None leaves it to the mock."""
    detail: tuple[str, ...] | None = None
    """Moderation reasons, or the error message of an ``error`` outcome."""
    faults: Mapping[Target, Fault] = dataclasses.field(default_factory=dict)
    expired: bool | None = None
    """Sample URLs are already expired when handed out."""
    webhook_lost: bool | None = None
    """The webhook is never delivered."""

    def fault(self, target: Target) -> Fault:
        return self.faults.get(target, _NO_FAULT)

    def merged(self, other: Scenario) -> Scenario:
        """Combine with ``other``; every directive ``other`` sets takes precedence."""
        if other is NO_SCENARIO:
            return self
        if self is NO_SCENARIO:
            return other
        targets = set(self.faults) | set(other.faults)
        return Scenario(
            outcome=other.outcome if other.outcome is not None else self.outcome,
            detail=other.detail if other.outcome is not None else self.detail,
            faults={t: self.fault(t).merged(other.fault(t)) for t in targets},
            expired=_pick(self, other, "expired"),
            webhook_lost=_pick(self, other, "webhook_lost"),
        )

    def __bool__(self) -> bool:
        return self != NO_SCENARIO


_NO_FAULT = Fault()
NO_SCENARIO = Scenario()


def _pick(base: object, override: object, name: str) -> Any:
    value = getattr(override, name)
    return value if value is not None else getattr(base, name)


_OUTCOMES = {
    "ready": TaskStatus.READY,
    "request-moderated": TaskStatus.REQUEST_MODERATED,
    "content-moderated": TaskStatus.CONTENT_MODERATED,
    "error": TaskStatus.ERROR,
}
_ALIASES = {"insufficient-credits": "submit-402", "rate-limited": "submit-429"}
_FAULT_KINDS = ("latency", "slow", "drop")
DIRECTIVES = (
    *_OUTCOMES,
    *_ALIASES,
    "expired",
    "webhook-lost",
    "[submit-|poll-|image-]<status>[=times]",
    "[submit-|poll-|image-]latency=<seconds>|uniform:<a>:<b>|lognormal:<mu>:<sigma>",
    "[submit-|poll-|image-]slow=<seconds>",
    "[submit-|poll-|image-]drop",
)


def parse(text: str) -> Scenario:
    """Parse comma-separated directives (``"poll-503=2, latency=0.1"``)."""
    scenario = NO_SCENARIO
    for item in text.split(","):
        item = item.strip()
        if item:
            scenario = scenario.merged(_parse_one(item))
    return scenario


@functools.lru_cache(maxsize=1024)
def parsed(text: str) -> Scenario:
    """``parse`` for directives already checked once (a task's, the server's), remembered."""
    return parse(text)


def prompt_directives(prompt: str) -> str:
    """The directives of a prompt's ``[mock:...]`` tags, as one comma-separated text."""
    if PROMPT_TAG not in prompt:
        return ""
    return ",".join(PROMPT_DIRECTIVE.findall(prompt))


def from_prompt(prompt: str) -> Scenario:
    """The directives in ``[mock:...]`` tags of a prompt."""
    if PROMPT_TAG not in prompt:
        return NO_SCENARIO
    return parse(",".join(PROMPT_DIRECTIVE.findall(prompt)))


def _parse_one(item: str) -> Scenario:
    name, has_value, value = (part.strip() for part in item.partition("="))
    name = _ALIASES.get(name.lower(), name.lower())
    if name in _OUTCOMES:
        detail = tuple(v.strip() for v in value.split(";") if v.strip()) if has_value else None
        return Scenario(outcome=_OUTCOMES[name], detail=detail)
    if name == "expired":
        return Scenario(expired=True)
    if name == "webhook-lost":
        return Scenario(webhook_lost=True)
    targets, kind = _split_target(name)
    fault = _parse_fault(kind, value if has_value else None, item)
    return Scenario(faults={target: fault for target in targets})


def _split_target(name: str) -> tuple[Iterable[Target], str]:
    prefix, _, rest = name.partition("-")
    for target in Target:
        if prefix == target.value and rest:
            return (target,), rest
    return tuple(Target), name


def _parse_fault(kind: str, value: str | None, item: str) -> Fault:
    try:
        if kind.isdigit():
            status = int(kind)
            if not 400 <= status <= 599:
                raise ValueError("only 4xx and 5xx statuses can be injected")
            HTTPStatus(status)
            times = int(value) if value is not None else None
            if times is not None and times < 1:
                raise ValueError("times must be at least 1")
            return Fault(status=status, times=times)
        if kind == "latency" and value is not None:
            return Fault(latency=_parse_latency(value))
        if kind == "slow" and value is not None:
            return Fault(slow=_seconds(value, MAX_SLOW_SECONDS))
        if kind == "drop" and value is None:
            return Fault(drop=True)
    except ValueError as error:
        raise DirectiveError(f"bad directive {item!r}: {error}") from None
    known = ", ".join(DIRECTIVES)
    raise DirectiveError(f"unknown directive {item!r}; known directives: {known}")


def _parse_latency(value: str) -> Latency:
    kind, _, arguments = value.partition(":")
    if kind == "uniform":
        a, b = (_seconds(text, math.inf) for text in arguments.partition(":")[::2])
        if a > b:
            raise ValueError("uniform needs a <= b")
        return Latency(kind, min(a, MAX_LATENCY_SECONDS), min(b, MAX_LATENCY_SECONDS))
    if kind == "lognormal":
        mu, sigma = (_finite(text) for text in arguments.partition(":")[::2])
        if mu > MAX_LOG_MEDIAN:
            raise ValueError(
                f"lognormal needs mu <= {MAX_LOG_MEDIAN:.2f} "
                f"(a median of at most {MAX_LATENCY_SECONDS:g} s)"
            )
        if not 0 <= sigma <= MAX_LOGNORMAL_SIGMA:
            raise ValueError(f"lognormal needs 0 <= sigma <= {MAX_LOGNORMAL_SIGMA:g}")
        return Latency(kind, mu, sigma)
    return Latency("fixed", _seconds(value))


MAX_LOG_MEDIAN = math.log(MAX_LATENCY_SECONDS)


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text.strip()!r} is not a finite number")
    return number


def _seconds(text: str, most: float = MAX_LATENCY_SECONDS) -> float:
    """Finite, not negative, and cut to ``most``."""
    seconds = _finite(text)
    if seconds < 0:
        raise ValueError("seconds must not be negative")
    return min(seconds, most)
