"""BFL's bodies, with the keys and spellings of one spec.

Keys come in the order of the spec's response schemas, which is the order BFL's
server emits them in.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from mockserver.domain.endpoints import DEFAULT_ROW, BehaviourTable
from mockserver.domain.outcomes import Outcome
from mockserver.domain.pricing import Price
from mockserver.errors import SpecError
from mockserver.render.wire import encode_json_safely, json_body_response, json_response
from mockserver.settings import SubmitCost
from mockserver.spec.openapi import JsonSchema, OperationKind, Spec, TaskStatus

ERROR_DETAIL = "error"
"""The key of an ``Error`` task's message in its ``details``."""
MODERATION_REASONS = "Moderation Reasons"
"""The key of a moderated task's reasons in its ``details``."""
TASK_BODY_MEMO_SIZE = 4096

# Keys of the poll body the mock fills; their order comes from the spec.
ID, STATUS, RESULT, PROGRESS, DETAILS = "id", "status", "result", "progress", "details"
POLLING_URL, WEBHOOK_URL = "polling_url", "webhook_url"
COST, INPUT_MP, OUTPUT_MP = "cost", "input_mp", "output_mp"


@dataclasses.dataclass(frozen=True, slots=True)
class SampleResult:
    """``result`` of a Ready task: the values an endpoint's result may hold, and which it does.

    The spec leaves ``result`` untyped; each endpoint family sends its own keys in its own
    order (endpoint table, ``result_keys``; live captures).
    """

    keys: tuple[str, ...]
    sample: str
    prompt: str
    seed: int
    start_time: float
    end_time: float
    duration: float
    draft_cache: str | None = None
    """A draft video's bundle URL (flux-3-video ``draft``)."""

    @property
    def draft_caches(self) -> list[str] | None:
        return None if self.draft_cache is None else [self.draft_cache]

    def as_json(self) -> dict[str, Any]:
        """The endpoint's keys in order; dataclasses.asdict would deep-copy each value."""
        return {name: getattr(self, name) for name in self.keys}


RESULT_FIELDS = frozenset(
    {field.name for field in dataclasses.fields(SampleResult)} - {"keys"} | {"draft_caches"}
)
"""What a ``result_keys`` list in the endpoint table may name."""


class Renderer:
    """Bodies whose keys and spellings come from one spec."""

    def __init__(self, spec: Spec) -> None:
        self._spec = spec
        self._statuses = spec.statuses
        self._result_keys = spec.result_keys
        self._settled_key = spec.settled_cost_key
        self._settled_keys = spec.poll_shape(settled=True).keys
        self._credits_key = _credits_key(spec)
        # A task is polled many times with the same answer; its body is a pure function
        # of these arguments, so each distinct one is encoded once (bounded).
        self._task_body = functools.lru_cache(maxsize=TASK_BODY_MEMO_SIZE)(self._encode_task)

    def status_text(self, status: TaskStatus) -> str:
        return self._statuses[status]

    def check_result_keys(self, table: BehaviourTable) -> None:
        """Refuse, at start-up, a table row whose ``result_keys`` names an unknown field."""
        for path in (*table.paths, DEFAULT_ROW):
            behaviour = table.for_path(path)
            unknown = set(behaviour.result_keys) | set(behaviour.draft_keys)
            unknown -= RESULT_FIELDS
            if unknown:
                raise SpecError(
                    f"endpoint table row {path!r}: unknown result keys {sorted(unknown)}; "
                    f"known: {sorted(RESULT_FIELDS)}"
                )

    @property
    def settles_cost(self) -> bool:
        """Whether the served spec has a poll answer carrying a settled cost."""
        return self._settled_key is not None

    def submitted(
        self,
        *,
        task_id: str,
        polling_url: str,
        webhook_url: str | None,
        cost_mode: SubmitCost,
        price: Price,
        numeric: bool,
    ) -> Response:
        """``AsyncResponse``, or ``AsyncWebhookResponse`` when a webhook was given.

        ``numeric``: the endpoint reports cost and megapixels on submit (else null).
        """
        body: dict[str, Any]
        if webhook_url is None:
            body = {ID: task_id, POLLING_URL: polling_url}
        else:
            body = {
                ID: task_id,
                STATUS: self._statuses[TaskStatus.PENDING],
                WEBHOOK_URL: webhook_url,
            }
        if cost_mode is SubmitCost.PRICE or (cost_mode is SubmitCost.ENDPOINT and numeric):
            body.update({COST: price.cost, INPUT_MP: price.input_mp, OUTPUT_MP: price.output_mp})
        elif cost_mode is not SubmitCost.ABSENT:
            body.update({COST: None, INPUT_MP: None, OUTPUT_MP: None})
        return json_response(body)

    def task(
        self,
        *,
        task_id: str,
        status: TaskStatus,
        status_code: int = 200,
        result: SampleResult | None = None,
        progress: float | None = None,
        details: Outcome | None = None,
        settled_cost: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """A poll answer; ``settled_cost`` picks the spec's settled-cost branch (video).

        ``details``: the task's outcome, once it shows it (its error or moderation reasons).
        """
        body = self._task_body(task_id, status, result, progress, details, settled_cost)
        return json_body_response(body, status_code, headers)

    def _encode_task(
        self,
        task_id: str,
        status: TaskStatus,
        result: SampleResult | None,
        progress: float | None,
        details: Outcome | None = None,
        settled_cost: float | None = None,
    ) -> bytes:
        values = {
            ID: task_id,
            STATUS: self._statuses[status],
            RESULT: None if result is None else result.as_json(),
            PROGRESS: progress,
            DETAILS: None if details is None else _details_json(details),
        }
        keys = self._result_keys
        if settled_cost is not None and self._settled_key is not None:
            keys = self._settled_keys
            values[self._settled_key] = settled_cost
        return encode_json_safely({key: values.get(key) for key in keys})

    def credits(self, balance: float) -> Response:
        if self._credits_key is None:
            return json_response({})
        return json_response({self._credits_key: float(balance)})

    def minimal(self, schema: JsonSchema | None) -> Response:
        """The smallest body valid for ``schema``: for operations the mock does not model."""
        return json_response(_minimal_value(self._spec, schema))


def _details_json(outcome: Outcome) -> dict[str, Any] | None:
    """The ``details`` of a task showing ``outcome``: its error, or its moderation reasons."""
    if outcome.error is not None:
        return {ERROR_DETAIL: outcome.error}
    if outcome.moderation_reasons:
        return {MODERATION_REASONS: list(outcome.moderation_reasons)}
    return None


def _credits_key(spec: Spec) -> str | None:
    """The balance's property name, read from the credits response schema."""
    for operation in spec.operations_of(OperationKind.CREDITS):
        schema = spec.resolve(operation.responses.get(200) or {})
        names = schema.get("required") or list(schema.get("properties", {}))
        return str(names[0]) if names else None
    return None


def _minimal_value(spec: Spec, schema: JsonSchema | None) -> Any:
    if not schema:
        return None
    schema = spec.resolve(schema)
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        return _minimal_value(spec, branches[0])
    if "enum" in schema:
        return schema["enum"][0]
    json_type = schema.get("type")
    if json_type == "object":
        properties = schema.get("properties", {})
        return {name: _minimal_value(spec, properties[name]) for name in schema.get("required", [])}
    return {
        "array": [],
        "string": "",
        "integer": 0,
        "number": 0.0,
        "boolean": False,
    }.get(str(json_type))
