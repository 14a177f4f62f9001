"""What the kit accepts beyond the letter of the spec, and why; each rule stated once.

BFL's spec is what its FastAPI server writes about itself, and that server does a few
things the spec does not say:

* Statuses it never documents: 401/403 for the API key, 404 for an unknown task, 402
  when credits run out, 429 past the concurrency limit, 400 for a body that is not
  text. A server may answer these, with their real shape, and not be at fault.
* pydantic's lax mode: the server accepts some values of the wrong JSON type because
  it converts them (``"5"`` or ``5.0`` for an integer, ``0``/``"yes"`` for a boolean).
  Accepting such a value is not "accepting invalid data".
* A failed task's poll: the real API answers the poll of a task that failed on its
  input (an unreadable video, a clip too short) with its task body, status Error, and
  HTTP 422, although the request itself was valid.
* Business rules no schema states: pydantic validators of BFL's models refuse some
  schema-valid bodies (an aspect ratio out of range, an empty one, a canvas too big, a
  draft at a resolution drafts do not have) with a 422 whose errors are all of type
  ``value_error``. Refusing those is not "rejecting valid data".

schemathesis's ``status_code_conformance``, ``negative_data_rejection`` and
``positive_data_acceptance`` know none of this, so the server check runs them through
variants that apply these rules (``register_schemathesis_checks`` lists them).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from contracts._contract import DETAIL, STATUS, Contract
from mockserver.spec.openapi import JsonSchema, Operation, OperationKind, TaskStatus


@dataclasses.dataclass(frozen=True, slots=True)
class OutOfSpecStatus:
    """A status the real API sends although its spec does not document it."""

    status: int
    when: str
    applies: Callable[[Operation], bool]
    task_body: bool = False
    """The body is a poll body with status "Task not found"; else ``{"detail": <text>}``."""


def _keyed(operation: Operation) -> bool:
    return operation.api_key_header is not None


def _has_body(operation: Operation) -> bool:
    return operation.body_schema is not None


def _generation(operation: Operation) -> bool:
    return operation.kind is OperationKind.GENERATION


def _polling(operation: Operation) -> bool:
    return operation.kind is OperationKind.RESULT


OUT_OF_SPEC_STATUSES: tuple[OutOfSpecStatus, ...] = (
    OutOfSpecStatus(400, "a body that cannot be decoded as text", _has_body),
    OutOfSpecStatus(401, "no API key, on an operation that declares one", _keyed),
    OutOfSpecStatus(402, "credits ran out", _generation),
    OutOfSpecStatus(403, "an API key the server does not accept", _keyed),
    OutOfSpecStatus(404, "get_result for an unknown id", _polling, task_body=True),
    OutOfSpecStatus(429, "too many active tasks", _generation),
)
"""The README's table of out-of-spec statuses is this tuple."""


def tolerated_status(contract: Contract, operation: Operation, status: int, body: bytes) -> bool:
    """Whether an undocumented ``status`` is one the real API sends, with its real shape."""
    for rule in OUT_OF_SPEC_STATUSES:
        if rule.status == status and rule.applies(operation):
            if rule.task_body:
                return _task_body_with(contract, body, TaskStatus.TASK_NOT_FOUND)
            return _detail_text(body)
    return False


VALIDATOR_ERROR = "value_error"
"""pydantic's error type for a validator that raised ``ValueError`` (a business rule)."""


def validator_refusal(status: int, body: bytes) -> bool:
    """Whether a refusal is a business rule's: a 422 listing only validators' errors."""
    document = _json(body) if status == 422 else None
    errors = document.get(DETAIL) if isinstance(document, dict) else None
    return (
        isinstance(errors, list)
        and bool(errors)
        and all(isinstance(e, dict) and e.get("type") == VALIDATOR_ERROR for e in errors)
    )


def failed_task_poll(contract: Contract, operation: Operation, status: int, body: bytes) -> bool:
    """Whether a poll's 422 is a failed task's answer: its task body, status Error."""
    return (
        _polling(operation) and status == 422 and _task_body_with(contract, body, TaskStatus.ERROR)
    )


def _detail_text(body: bytes) -> bool:
    document = _json(body)
    return isinstance(document, dict) and isinstance(document.get(DETAIL), str)


def _task_body_with(contract: Contract, body: bytes, status: TaskStatus) -> bool:
    """Whether ``body`` is a poll's task body (get_result's 200 schema) in ``status``."""
    document = _json(body)
    schema = contract.response_schema(contract.result_operation, 200)
    return (
        isinstance(document, dict)
        and document.get(STATUS) == contract.status(status)
        and schema is not None
        and not contract.errors(document, schema)
    )


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


# pydantic v2's lax conversions for JSON input (its "Conversion Table"), by target type.
_TRUE_WORDS = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE_WORDS = frozenset({"0", "off", "f", "false", "n", "no"})


def read_laxly(value: Any, schema: JsonSchema | bool, contract: Contract) -> Any:
    """``value`` as pydantic's lax mode would read it for ``schema`` (unchanged if it would not)."""
    if not isinstance(schema, Mapping):
        return value
    schema = contract.resolve(schema)
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        for branch in branches:
            converted = read_laxly(value, branch, contract)
            if not contract.errors(converted, branch):
                return converted
        return value
    kind = schema.get("type")
    if kind == "object" and isinstance(value, dict):
        properties = schema.get("properties", {})
        return {
            key: read_laxly(item, properties[key], contract) if key in properties else item
            for key, item in value.items()
        }
    if kind == "array" and isinstance(value, list):
        # A tuple's items by position (prefixItems), the rest by ``items``.
        leading = schema.get("prefixItems", [])
        return [
            read_laxly(
                item, leading[i] if i < len(leading) else schema.get("items", True), contract
            )
            for i, item in enumerate(value)
        ]
    convert = _CONVERSIONS.get(str(kind))
    return convert(value) if convert else value


def _to_int(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return value
    return value


def _to_float(value: Any) -> Any:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return value
        return number if math.isfinite(number) else value
    return value


def _to_bool(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE_WORDS | _FALSE_WORDS:
        return value.strip().lower() in _TRUE_WORDS
    return value


_CONVERSIONS: Mapping[str, Callable[[Any], Any]] = {
    "integer": _to_int,
    "number": _to_float,
    "boolean": _to_bool,
}
