"""The contract the kit checks against: one OpenAPI document, read once.

Everything the kit knows about the API comes from here: operations, request and
response schemas, the task statuses and which of them are final. The document is
read by ``mockserver.spec.openapi``, the same reader the mock uses, so the kit and the mock
cannot disagree about what the spec says.
"""

from __future__ import annotations

import functools
import json
import threading
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import jsonschema

from contracts._predicted_output import Expectations, Expected
from mockserver.errors import SpecError
from mockserver.spec.openapi import JsonSchema, Operation, OperationKind, Spec, TaskStatus
from mockserver.spec.reading import load_spec

# Property names the kit follows a task by: the spec's words (AsyncResponse,
# AsyncWebhookResponse, ResultResponse, HTTPValidationError), owned here rather than
# borrowed from the mock, so the kit checks the mock instead of agreeing with it.
ID = "id"
STATUS = "status"
RESULT = "result"
POLLING_URL = "polling_url"
WEBHOOK_URL = "webhook_url"
DETAIL = "detail"
LOC = "loc"
SAMPLE = "sample"

READY_RESULT_SCHEMA: JsonSchema = {
    "type": "object",
    "required": [SAMPLE],
    "properties": {
        SAMPLE: {"type": "string", "format": "uri"},
        "prompt": {"type": "string"},
        "seed": {"type": "integer"},
        "start_time": {"type": "number"},
        "end_time": {"type": "number"},
        "duration": {"type": "number"},
    },
}
"""``result`` of a Ready task. The spec leaves it untyped (``anyOf: [{}, null]``).

Live captures show these keys: FLUX.1 endpoints send all six, FLUX.2 endpoints only
``start_time, prompt, seed, sample``. So only ``sample`` is required, and a client
must not count on the others.
"""


T = TypeVar("T")


class Contract:
    """One OpenAPI document, with validators for its schemas built on first use."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self._components = spec.document.get("components", {})
        self._validators: dict[str, jsonschema.protocols.Validator] = {}
        self._expectations: Expectations | None = None
        self._expecting = threading.Lock()
        self._derived: dict[str, Any] = {}
        self._deriving = threading.Lock()

    def derived(self, key: str, build: Callable[[], T]) -> T:
        """What ``build`` makes from this contract, made once per ``key`` (strategies, say).

        The kit's parts live with the contract they were made for, not in module-level
        caches keyed by the contract object.
        """
        with self._deriving:
            if key not in self._derived:
                self._derived[key] = build()
            made: T = self._derived[key]
            return made

    @property
    def operations(self) -> tuple[Operation, ...]:
        return self.spec.operations

    def operation(self, operation_id: str) -> Operation:
        """The operation with this ``operationId``; ``KeyError`` lists the known ones."""
        try:
            return self.spec.operation(operation_id)
        except KeyError:
            known = ", ".join(op.operation_id for op in self.spec.operations)
            raise KeyError(f"no operation {operation_id!r} in the spec (known: {known})") from None

    def operations_of(self, kind: OperationKind) -> tuple[Operation, ...]:
        return self.spec.operations_of(kind)

    @property
    def result_operation(self) -> Operation:
        return self.spec.result_operation

    @property
    def task_id_parameter(self) -> str:
        """Name of get_result's required query parameter (``id``)."""
        try:
            return self.spec.task_id_param
        except SpecError:
            return ID

    def expected(self, operation: Operation, body: Any) -> Expected | None:
        """What the sample of a Ready task of this submit must be (endpoint table, defaults)."""
        with self._expecting:  # the server check follows tasks from several threads
            return self._predictions().of(operation, body)

    def refused(self, operation: Operation, body: Any) -> bool:
        """Whether a business rule of the endpoint table refuses this schema-valid body."""
        with self._expecting:
            return self._predictions().refused(operation, body)

    def _predictions(self) -> Expectations:
        if self._expectations is None:
            self._expectations = Expectations(self.spec)
        return self._expectations

    def poll_path(self, task_id: str) -> str:
        """get_result's path and query for a task, for polling it by id."""
        query = urllib.parse.urlencode({self.task_id_parameter: task_id})
        return f"{self.result_operation.path}?{query}"

    def status(self, status: TaskStatus) -> str:
        """The wire spelling of a task status, from the spec's enum."""
        return self.spec.statuses[status]

    @property
    def final_statuses(self) -> frozenset[str]:
        return frozenset(text for status, text in self.spec.statuses.items() if status.is_final)

    def response_schema(self, operation: Operation, status: int) -> JsonSchema | None:
        return operation.responses.get(status)

    def resolve(self, schema: JsonSchema) -> JsonSchema:
        return self.spec.resolve(schema)

    def plain_document(self) -> dict[str, Any]:
        """A fresh deep copy of the document as plain dicts and lists (schemathesis edits it)."""
        copied: dict[str, Any] = json.loads(self.spec.raw)
        return copied

    def errors(self, value: Any, schema: JsonSchema) -> tuple[str, ...]:
        """Where ``value`` breaks ``schema`` (JSON Schema 2020-12), one line per error."""
        validator = self._validator(schema)
        return tuple(_describe(error) for error in validator.iter_errors(value))

    def _validator(self, schema: JsonSchema) -> jsonschema.protocols.Validator:
        key = repr(schema)
        if key not in self._validators:
            # Local "#/components/..." references resolve against the embedded components.
            rooted = {**schema, "components": self._components}
            self._validators[key] = jsonschema.Draft202012Validator(rooted)
        return self._validators[key]


@functools.lru_cache(maxsize=8)
def load_contract(path: Path | str | None = None) -> Contract:
    """The contract of ``path``, or of the ``openapi.json`` bundled with bfl-mock."""
    return Contract(load_spec(Path(path) if path is not None else None))


def _describe(error: jsonschema.ValidationError) -> str:
    path = "".join(f"[{part!r}]" for part in error.absolute_path)
    text = f"at {path}: {error.message}" if path else error.message
    if error.context:
        # For anyOf, name the branch that came closest.
        text += f" (closest: {jsonschema.exceptions.best_match(error.context).message})"
    return text
