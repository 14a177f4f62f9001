"""What a Ready sample of a submit should be: size, format, length, as the endpoint table says.

The kit predicts a generation's output with bfl-mock's own planning (the endpoint-behaviour
table, the spec's defaults, the request's media decoded here), so a server that answers a
kontext edit at the wrong shape, or a 5 s video at 6 s, is caught. What cannot be known
from the request alone (a URL the kit will not fetch, a draft bundle it cannot open) gives
no expectation for what depends on it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from mockserver.domain import media
from mockserver.domain.endpoints import BehaviourTable, Media, load_table
from mockserver.domain.generation import Generation, Refused, plan
from mockserver.domain.media import Encoding, InputKind, Inputs
from mockserver.http.inputs import STAND_IN_IMAGE, STAND_IN_SECONDS, STAND_IN_VIDEO, probe_video
from mockserver.spec.models import ModelBuilder
from mockserver.spec.openapi import Operation, OperationKind, Spec
from mockserver.spec.validation import Accepted, RequestValidator


@dataclasses.dataclass(frozen=True, slots=True)
class Expected:
    """What the sample of a Ready task must be (None: not predictable from the request)."""

    size: tuple[int, int] | None
    format: str | None
    video: bool = False
    duration: float | None = None
    audio: bool | None = None


class Expectations:
    """Predicts outputs for one spec; validators are built once per operation."""

    def __init__(self, spec: Spec, table: BehaviourTable | None = None) -> None:
        self._spec = spec
        self._table = table or load_table()
        self._builder = ModelBuilder(spec)
        self._validators: dict[str, RequestValidator] = {}

    def of(self, operation: Operation, body: Any) -> Expected | None:
        found = self._plan(operation, body)
        if found is None:
            return None
        planned, inputs = found
        if isinstance(planned, Refused):
            return None
        unknown = any(item.stand_in or item.kind is InputKind.BUNDLE for item in inputs.items)
        video = planned.media is Media.VIDEO
        return Expected(
            size=None if unknown else (planned.width, planned.height),
            format=planned.output_format,
            video=video,
            duration=None if unknown or not video else planned.duration,
            audio=None if unknown or not video else planned.audio,
        )

    def refused(self, operation: Operation, body: Any) -> bool:
        """Whether a business rule of the endpoint table refuses this schema-valid body."""
        planned = self._plan(operation, body)
        return planned is not None and isinstance(planned[0], Refused)

    def _plan(self, operation: Operation, body: Any) -> tuple[Generation | Refused, Inputs] | None:
        """The mock's plan for a valid submit, with the media read here (None: not valid)."""
        if operation.kind is not OperationKind.GENERATION or operation.body_schema is None:
            return None
        behaviour = self._table.for_path(operation.path)
        accepted = self._validator(operation).validate(
            body=body, query={}, headers={}, path_params={}, cookies={}
        )
        if not isinstance(accepted, Accepted):
            return None
        fields: Mapping[str, Any] = accepted.body or {}
        references = media.references(fields, behaviour.input_kind)
        inputs = Inputs(tuple(_read(reference) for reference in references))
        planned = plan(fields, behaviour, inputs, api_key=None, statuses=self._spec.statuses)
        return planned, inputs

    def _validator(self, operation: Operation) -> RequestValidator:
        found = self._validators.get(operation.operation_id)
        if found is None:
            found = self._validators[operation.operation_id] = RequestValidator(
                operation,
                self._builder,
                accepted_keys=frozenset(),
                key_header=None,
                tag_aliases=self._table.for_path(operation.path).mode_aliases,
            )
        return found


def _read(reference: media.MediaReference) -> media.MediaInput:
    if reference.encoding is Encoding.URL:
        video = reference.kind is InputKind.VIDEO
        size = STAND_IN_VIDEO if video else STAND_IN_IMAGE
        return media.stand_in(reference, size, STAND_IN_SECONDS)
    return media.read(reference, media.decode_text(reference.text), probe_video=probe_video)
