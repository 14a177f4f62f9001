"""The endpoint-behaviour table: what each endpoint does that its schema cannot say.

``endpoints.toml`` (shipped with the package) holds one row per known endpoint path and a
``default`` row for endpoints nobody has seen yet; a row's missing keys come from the
default. This module reads the table once into typed values; the mechanisms a row names
(size rules, price formulas, checks) are built by their own modules' registries.
"""

from __future__ import annotations

import dataclasses
import enum
import fnmatch
import functools
import importlib.resources
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mockserver.domain import checks, pricing, sizing
from mockserver.domain.conditions import When
from mockserver.domain.media import InputKind
from mockserver.errors import SpecError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

TABLE_FILE = "endpoints.toml"
DEFAULT_ROW = "default"


class Media(enum.Enum):
    IMAGE = "image"
    VIDEO = "video"


class Progress(enum.Enum):
    """What ``progress`` reports while a task works."""

    TENTHS = "tenths"
    """null while queued, 0.1 .. 1.0, null while finishing (FLUX.1 capture)."""
    NULL = "null"
    """null throughout (FLUX.2 capture)."""


class SubmitCost(enum.Enum):
    """What the submit answer carries in ``cost``, ``input_mp`` and ``output_mp``."""

    NUMERIC = "numeric"
    NULL = "null"


class PromptRule(enum.Enum):
    """How ``result.prompt`` relates to the submitted prompt."""

    VERBATIM = "verbatim"
    UPSAMPLED_WHEN = "upsampled_when"
    """Rewritten when the named boolean field is true."""
    UPSAMPLED_UNLESS = "upsampled_unless"
    """Rewritten unless the named boolean field is true."""
    EXPANDED = "expanded"
    """Always rewritten (FLUX 3 expands every prompt)."""
    PREFIXED = "prefixed"
    """The given text, then the prompt (video upscale: ``Upscale and enhance: ``)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Prompting:
    rule: PromptRule
    argument: str = ""
    """The field of ``UPSAMPLED_*``, the text of ``PREFIXED``."""

    @classmethod
    def parse(cls, text: str) -> Prompting:
        name, _, argument = text.partition(":")
        return cls(PromptRule(name), argument)


@dataclasses.dataclass(frozen=True, slots=True)
class DurationRule:
    """How long a video is: a field (whole seconds or ``auto``), or its source's length."""

    field: str | None = None
    auto: float = 5.0
    """Seconds ``auto`` picks (unknown on the real API: README)."""
    keyframes: str | None = None
    """With ``[seconds, image]`` keyframes and ``auto``: the last pair's second, rounded up."""
    source: str | None = None
    """The input video whose length the output keeps."""
    max: float = 20.0


@dataclasses.dataclass(frozen=True, slots=True)
class PriceCase:
    when: When
    formula: pricing.Formula


@dataclasses.dataclass(frozen=True, slots=True)
class EndpointBehaviour:
    """One row of the table, complete (the default row filled in)."""

    path: str
    known: bool
    """False for the default row's stand-in of an endpoint the table does not list."""
    media: Media
    statuses: tuple[str, ...]
    """Working statuses in order, in the table's spelling (matched to the spec's)."""
    progress: Progress
    result_keys: tuple[str, ...]
    draft_keys: tuple[str, ...]
    size: sizing.SizeRule
    default_format: str
    duration: DurationRule | None
    audio_field: str | None
    price: tuple[PriceCase, ...]
    submit_cost: SubmitCost
    settled_cost: bool
    active_limit: int | None
    """Unfinished tasks of this endpoint per key (None: only the server-wide limit)."""
    sample_ttl_seconds: float
    prompt: Prompting
    mode_aliases: Mapping[str, str]
    inputs: tuple[tuple[str, InputKind], ...]
    """Field name (or fnmatch pattern) and what it carries, in table order."""
    failed_input_status: int
    """HTTP status of the Error poll of a task whose input is unusable."""
    checks: tuple[checks.Check, ...]

    def input_kind(self, field: str) -> InputKind | None:
        for pattern, kind in self.inputs:
            if fnmatch.fnmatchcase(field, pattern):
                return kind
        return None

    def describe(self) -> dict[str, str]:
        """The row in words, for ``bfl-mock endpoints`` and the README."""
        price = "; ".join(
            (f"{case.when.describe()}: " if case.when.conditions else "") + case.formula.describe()
            for case in self.price
        )
        return {
            "endpoint": self.path,
            "output": f"{self.media.value} ({self.default_format}): {self.size.describe()}",
            "price (credits)": price,
            "cost on submit": self.submit_cost.value
            + ("; settled on the final poll" if self.settled_cost else ""),
            "statuses": " > ".join(self.statuses)
            + (" (progress)" if self.progress is Progress.TENTHS else ""),
            "limit": "" if self.active_limit is None else str(self.active_limit),
            "URL lives": f"{self.sample_ttl_seconds / 60:g} min",
        }

    def formula_for(self, body: Mapping[str, Any]) -> pricing.Formula:
        for case in self.price:
            if case.when.matches(body):
                return case.formula
        raise SpecError(f"{self.path}: no price case matches the request")  # pragma: no cover


class BehaviourTable:
    """Rows by path; ``for_path`` answers every path, unknown ones with the default row."""

    def __init__(self, rows: Mapping[str, Mapping[str, Any]]) -> None:
        if DEFAULT_ROW not in rows:
            raise SpecError(f"the endpoint table has no [{DEFAULT_ROW}] row")
        self._default = dict(rows[DEFAULT_ROW])
        self._rows = {
            path: _row(path, {**self._default, **dict(row)}, known=True)
            for path, row in rows.items()
            if path != DEFAULT_ROW
        }
        _row(DEFAULT_ROW, self._default, known=False)  # refused here if it is broken

    @property
    def paths(self) -> tuple[str, ...]:
        """The endpoints the table knows, in table order."""
        return tuple(self._rows)

    def for_path(self, path: str) -> EndpointBehaviour:
        row = self._rows.get(path)
        if row is None:
            # An endpoint nobody has seen yet: the default row, under its own path.
            row = self._rows[path] = _row(path, self._default, known=False)
        return row


@functools.lru_cache(maxsize=8)
def load_table(overrides: Path | None = None) -> BehaviourTable:
    """The table shipped with the package, with the rows of ``overrides`` laid over it.

    An override row changes only the keys it gives; a path the table lacks is added.
    """
    text = importlib.resources.files("mockserver.domain").joinpath(TABLE_FILE).read_text()
    rows = _rows(text, TABLE_FILE)
    if overrides is not None:
        try:
            extra = _rows(overrides.read_text(), str(overrides))
        except OSError as error:
            raise SpecError(f"cannot read the endpoint table {overrides}: {error}") from error
        for path, row in extra.items():
            rows[path] = {**rows.get(path, {}), **row}
    return BehaviourTable(rows)


def parse_table(text: str) -> BehaviourTable:
    return BehaviourTable(_rows(text, TABLE_FILE))


def _rows(text: str, where: str) -> dict[str, dict[str, Any]]:
    try:
        rows = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SpecError(f"{where} is not valid TOML: {error}") from error
    bad = [path for path, row in rows.items() if not isinstance(row, dict)]
    if bad:
        raise SpecError(f'{where}: {", ".join(bad)} must be tables (["/v1/..."] rows)')
    return rows


def _row(path: str, row: Mapping[str, Any], *, known: bool) -> EndpointBehaviour:
    try:
        duration = row.get("duration")
        return EndpointBehaviour(
            path=path,
            known=known,
            media=Media(row["media"]),
            statuses=tuple(row["statuses"]),
            progress=Progress(row["progress"]),
            result_keys=tuple(row["result_keys"]),
            draft_keys=tuple(row.get("draft_keys", ())),
            size=sizing.build(row["size"]),
            default_format=str(row["default_format"]),
            duration=None if duration is None else DurationRule(**duration),
            audio_field=row.get("audio_field"),
            price=tuple(
                PriceCase(
                    When.parse(case.get("when", {})),
                    pricing.build({k: v for k, v in case.items() if k != "when"}),
                )
                for case in row["price"]
            ),
            submit_cost=SubmitCost(row["submit_cost"]),
            settled_cost=bool(row["settled_cost"]),
            active_limit=None if "active_limit" not in row else int(row["active_limit"]),
            sample_ttl_seconds=float(row["sample_ttl_seconds"]),
            prompt=Prompting.parse(row["prompt"]),
            mode_aliases=dict(row.get("mode_aliases", {})),
            inputs=tuple((field, InputKind(kind)) for field, kind in row["inputs"].items()),
            failed_input_status=int(row["failed_input_status"]),
            checks=_checks(row),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise SpecError(f"endpoint table row {path!r}: {error!r}") from error


def _checks(row: Mapping[str, Any]) -> tuple[checks.Check, ...]:
    """The row's checks; an image row also keeps its output within its format's sides."""
    found = tuple(checks.build(raw) for raw in row["checks"])
    if Media(row["media"]) is Media.IMAGE:
        found += (checks.MaxSide(default=str(row["default_format"])),)
    return found
