"""The few typed facts the mock runs on, as an OpenAPI document states them.

The document is the only description of the API: routes, request schemas, security,
response schemas and status spellings all come from here (``reading`` reads them).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

from mockserver.errors import SpecError

SCHEMA_REF_PREFIX = "#/components/schemas/"

# The few property names the async protocol is built on: a submit answers a task ``id``
# and a ``polling_url``; a poll answers the task's ``id`` and ``status``. Operations are
# recognised by these shapes, never by the names of their schemas, so a spec nobody has
# seen yet is served as long as it speaks the same protocol.
TASK_ID = "id"
POLLING_URL = "polling_url"
STATUS_PROPERTY = "status"

JsonSchema = Mapping[str, Any]


class OperationKind(enum.Enum):
    GENERATION = "generation"
    """Submits a task: a POST answering ``id`` and ``polling_url``."""
    RESULT = "result"
    """Polls a task: a GET with a required query parameter answering ``id`` and ``status``."""
    CREDITS = "credits"
    """Reports the balance: a GET answering one required number."""
    OTHER = "other"
    """Anything else (finetune management): answered with a minimal valid body."""


class TaskStatus(enum.Enum):
    """Task states the mock reports. Wire spellings come from the spec's status enum."""

    TASK_NOT_FOUND = enum.auto()
    PENDING = enum.auto()
    REASONING = enum.auto()
    GENERATING = enum.auto()
    REQUEST_MODERATED = enum.auto()
    CONTENT_MODERATED = enum.auto()
    READY = enum.auto()
    ERROR = enum.auto()

    @property
    def is_final(self) -> bool:
        return self not in _NOT_FINAL

    @property
    def is_working(self) -> bool:
        """A task in this status is still being worked on (Pending, Reasoning, Generating)."""
        return self in _WORKING


_WORKING = frozenset({TaskStatus.PENDING, TaskStatus.REASONING, TaskStatus.GENERATING})
_NOT_FINAL = _WORKING | {TaskStatus.TASK_NOT_FOUND}
OPTIONAL_STATUSES = frozenset({TaskStatus.REASONING, TaskStatus.GENERATING})
"""Stages newer specs add (FLUX 3). A spec without them is served; their tasks stay Pending."""


@dataclasses.dataclass(frozen=True, slots=True)
class PollShape:
    """One object schema a poll may answer: its property order and required properties."""

    name: str
    keys: tuple[str, ...]
    required: frozenset[str]

    def fits(self, keys: frozenset[str]) -> bool:
        """Whether a body with exactly ``keys`` (all it means to send) is valid here."""
        return self.required <= keys <= frozenset(self.keys)


@dataclasses.dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    location: str
    """``query``, ``header``, ``path`` or ``cookie``."""
    required: bool
    schema: JsonSchema


@dataclasses.dataclass(frozen=True, slots=True)
class Operation:
    operation_id: str
    method: str
    path: str
    kind: OperationKind
    parameters: tuple[Parameter, ...]
    body_schema: JsonSchema | None
    body_required: bool
    api_key_header: str | None
    """Header carrying the API key, when the operation declares apiKey security."""
    responses: Mapping[int, JsonSchema | None]
    """JSON schema of each documented response, by status code."""


@dataclasses.dataclass(frozen=True, slots=True)
class Spec:
    raw: bytes
    """The document exactly as loaded, served at ``/openapi.json``."""
    document: Mapping[str, Any]
    operations: tuple[Operation, ...]
    statuses: Mapping[TaskStatus, str]
    """Wire spelling of each status the spec's enum has (Reasoning and Generating may lack)."""
    poll_shapes: tuple[PollShape, ...]
    """The object schemas get_result answers, in the spec's order (anyOf branches)."""
    settled_cost_key: str | None = None
    """The number a settled-cost poll adds (``cost``), when the spec has such a branch."""

    @property
    def result_keys(self) -> tuple[str, ...]:
        """Property order of the plain poll answer, which is also the real API's key order."""
        return self.poll_shape(settled=False).keys

    def poll_shape(self, *, settled: bool) -> PollShape:
        """The poll schema for an answer with (or without) a settled cost."""
        for shape in self.poll_shapes:
            if self.settled_cost_key is None or (self.settled_cost_key in shape.keys) is settled:
                return shape
        return self.poll_shapes[0]

    @property
    def components(self) -> Mapping[str, JsonSchema]:
        schemas: Mapping[str, JsonSchema] = self.document.get("components", {}).get("schemas", {})
        return schemas

    @property
    def result_operation(self) -> Operation:
        return self.operations_of(OperationKind.RESULT)[0]

    @property
    def api_key_header(self) -> str | None:
        """The first API-key header any operation declares (BFL's: ``x-key``)."""
        return next((op.api_key_header for op in self.operations if op.api_key_header), None)

    @property
    def task_id_param(self) -> str:
        """Name of get_result's required query parameter carrying the task id."""
        for parameter in self.result_operation.parameters:
            if parameter.location == "query" and parameter.required:
                return parameter.name
        raise SpecError(
            f"{self.result_operation.operation_id} has no required query parameter for the task id"
        )

    def operations_of(self, kind: OperationKind) -> tuple[Operation, ...]:
        return tuple(op for op in self.operations if op.kind is kind)

    def operation(self, operation_id: str) -> Operation:
        for op in self.operations:
            if op.operation_id == operation_id:
                return op
        raise KeyError(operation_id)

    def resolve(self, schema: JsonSchema) -> JsonSchema:
        """Follow ``$ref`` links until a schema without one."""
        seen: set[str] = set()
        while "$ref" in schema:
            ref = schema["$ref"]
            if ref in seen:
                raise SpecError(f"$ref cycle at {ref}")
            seen.add(ref)
            schema = self.component(ref)
        return schema

    def component(self, ref: str) -> JsonSchema:
        """The object a local reference (``#/components/...``) points to."""
        if not ref.startswith("#/"):
            raise SpecError(f"only local references are supported, not {ref!r}")
        target: Any = self.document
        for token in ref[2:].split("/"):
            token = token.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or token not in target:
                raise SpecError(f"{ref} points to nothing")
            target = target[token]
        if not isinstance(target, Mapping):
            raise SpecError(f"{ref} points to a {type(target).__name__}, not an object")
        return target
