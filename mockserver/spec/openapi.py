"""Read an OpenAPI document into the few typed facts the mock runs on.

The document is the only description of the API: routes, request schemas, security,
response schemas and status spellings all come from here. Operations are classified
by what their 200 response is, so any BFL spec (the seed, or the full published one)
is served without code for a particular endpoint.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mockserver.errors import SpecError
from mockserver.spec import bundled

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


def load_spec(path: Path | None = None) -> Spec:
    """Load ``path`` (a file, or a bundled spec's name), or the bundled ``openapi.json``."""
    source = bundled.source_of(path)
    if isinstance(source, bundled.BundledSpec):
        return parse_spec(source.read())
    try:
        raw = source.read_bytes()
    except OSError as error:
        known = ", ".join(bundled.names())
        raise SpecError(
            f"cannot read spec {source}: {error.strerror or error} (bundled specs: {known})"
        ) from error
    return parse_spec(raw)


def parse_spec(raw: bytes) -> Spec:
    try:
        document = json.loads(raw)
    except ValueError as error:
        raise SpecError(f"the spec is not valid JSON: {error}") from error
    if not isinstance(document, dict) or not isinstance(document.get("paths"), dict):
        raise SpecError("the spec has no 'paths' object")
    shell = Spec(raw=raw, document=document, operations=(), statuses={}, poll_shapes=())
    operations = tuple(_read_operations(shell))
    polls = [op for op in operations if op.kind is OperationKind.RESULT]
    if not polls:
        raise SpecError(
            "the spec has no operation polling a task (get_result): a GET with a required "
            f"query parameter whose 200 answers '{TASK_ID}' and '{STATUS_PROPERTY}'"
        )
    shapes = _poll_shapes(shell, polls[0])
    status_schema = shell.resolve(
        next(
            dict(_properties(shell, s)[STATUS_PROPERTY]) for s in _object_branches(shell, polls[0])
        )
    )
    return dataclasses.replace(
        shell,
        operations=operations,
        statuses=_read_statuses(status_schema, polls[0].path),
        poll_shapes=shapes,
        settled_cost_key=_settled_cost_key(shell, shapes, polls[0]),
    )


def _poll_shapes(spec: Spec, operation: Operation) -> tuple[PollShape, ...]:
    shapes = []
    for schema in _object_branches(spec, operation):
        properties = _properties(spec, schema)
        shapes.append(
            PollShape(
                name=str(schema.get("title", operation.operation_id)),
                keys=tuple(properties),
                required=frozenset(schema.get("required", ())),
            )
        )
    return tuple(shapes)


def _settled_cost_key(spec: Spec, shapes: tuple[PollShape, ...], op: Operation) -> str | None:
    """The required number one poll branch has and another lacks (``cost`` in Oct 2026)."""
    if len(shapes) < 2:
        return None
    common = frozenset.intersection(*(frozenset(shape.keys) for shape in shapes))
    for schema, shape in zip(_object_branches(spec, op), shapes, strict=True):
        for name in shape.required - common:
            if spec.resolve(_properties(spec, schema)[name]).get("type") == "number":
                return name
    return None


def _read_statuses(schema: JsonSchema, where: str) -> dict[TaskStatus, str]:
    spelled = {_constant_name(value): value for value in schema.get("enum", [])}
    missing = [
        status.name
        for status in TaskStatus
        if status.name not in spelled and status not in OPTIONAL_STATUSES
    ]
    if missing:
        raise SpecError(
            f"{where}: the task status enum lacks {', '.join(missing)}: {schema.get('enum')}"
        )
    return {status: spelled[status.name] for status in TaskStatus if status.name in spelled}


def _constant_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()


def _read_operations(spec: Spec) -> list[Operation]:
    document = spec.document
    schemes = document.get("components", {}).get("securitySchemes", {})
    default_security = document.get("security", [])
    operations = []
    for path, item in document["paths"].items():
        shared_parameters = item.get("parameters", [])
        for method, raw in item.items():
            if method not in ("get", "put", "post", "delete", "patch", "head", "options"):
                continue
            operation_id = raw.get("operationId") or f"{method}_{path}"
            responses = _read_responses(spec, raw.get("responses", {}))
            body = spec.resolve(raw["requestBody"]) if "requestBody" in raw else None
            body_schema = None
            if body is not None:
                content = body.get("content", {})
                media: Mapping[str, Any] = content.get("application/json") or next(
                    iter(content.values()), {}
                )
                body_schema = media.get("schema")
            operations.append(
                Operation(
                    operation_id=operation_id,
                    method=method.upper(),
                    path=path,
                    kind=_classify(spec, method, raw, responses.get(200)),
                    parameters=tuple(
                        _read_parameter(spec, p)
                        for p in [*shared_parameters, *raw.get("parameters", [])]
                    ),
                    body_schema=body_schema,
                    body_required=bool(body and body.get("required", False)),
                    api_key_header=_api_key_header(
                        raw.get("security", default_security), schemes, operation_id
                    ),
                    responses=responses,
                )
            )
    return operations


def _read_responses(spec: Spec, raw: Mapping[str, Any]) -> dict[int, JsonSchema | None]:
    responses: dict[int, JsonSchema | None] = {}
    for code, response in raw.items():
        if not code.isdigit():
            continue  # "default" and "4XX" ranges describe nothing the mock renders
        media = spec.resolve(response).get("content", {}).get("application/json", {})
        responses[int(code)] = media.get("schema")
    return responses


def _read_parameter(spec: Spec, raw: Mapping[str, Any]) -> Parameter:
    raw = spec.resolve(raw)
    try:
        return Parameter(
            name=raw["name"],
            location=raw["in"],
            required=bool(raw.get("required", raw["in"] == "path")),
            schema=raw.get("schema", {}),
        )
    except KeyError as error:
        raise SpecError(f"a parameter lacks {error}: {dict(raw)}") from None


def _classify(
    spec: Spec, method: str, operation: Mapping[str, Any], ok: JsonSchema | None
) -> OperationKind:
    branches = [spec.resolve(branch) for branch in _branches(spec, ok)]
    objects = [branch for branch in branches if branch.get("type") == "object"]
    if method == "post" and any(_requires(o, TASK_ID, POLLING_URL) for o in objects):
        return OperationKind.GENERATION
    if method != "get":
        return OperationKind.OTHER
    takes_query = any(
        spec.resolve(p).get("in") == "query" and spec.resolve(p).get("required")
        for p in operation.get("parameters", [])
    )
    if takes_query and any(_is_poll_answer(spec, o) for o in objects):
        return OperationKind.RESULT
    if len(objects) == 1 and _single_number(spec, objects[0]):
        return OperationKind.CREDITS
    return OperationKind.OTHER


def _requires(schema: JsonSchema, *names: str) -> bool:
    required = schema.get("required", ())
    return all(name in required for name in names)


def _is_poll_answer(spec: Spec, schema: JsonSchema) -> bool:
    if not _requires(schema, TASK_ID, STATUS_PROPERTY):
        return False
    status = _properties(spec, schema).get(STATUS_PROPERTY)
    return status is not None and bool(spec.resolve(status).get("enum"))


def _single_number(spec: Spec, schema: JsonSchema) -> bool:
    required = schema.get("required", ())
    properties = _properties(spec, schema)
    return (
        len(required) == 1
        and required[0] in properties
        and spec.resolve(properties[required[0]]).get("type") == "number"
    )


def _branches(spec: Spec, schema: JsonSchema | None) -> list[JsonSchema]:
    """The alternatives a response schema is made of (itself, or its anyOf/oneOf branches)."""
    if not schema:
        return []
    resolved = spec.resolve(schema)
    alternatives: Sequence[JsonSchema] | None = resolved.get("anyOf") or resolved.get("oneOf")
    if alternatives is None:
        return [schema]
    return [branch for alternative in alternatives for branch in _branches(spec, alternative)]


def _object_branches(spec: Spec, operation: Operation) -> list[JsonSchema]:
    return [
        resolved
        for resolved in (spec.resolve(b) for b in _branches(spec, operation.responses.get(200)))
        if resolved.get("type") == "object"
    ]


def _properties(spec: Spec, schema: JsonSchema) -> Mapping[str, JsonSchema]:
    properties: Mapping[str, JsonSchema] = schema.get("properties", {})
    return properties


def _api_key_header(
    security: Sequence[Mapping[str, Any]], schemes: Mapping[str, Any], operation_id: str
) -> str | None:
    for requirement in security:
        for scheme_name in requirement:
            scheme = schemes.get(scheme_name)
            if scheme is None:
                raise SpecError(f"{operation_id} uses undeclared security scheme {scheme_name!r}")
            if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
                return str(scheme["name"])
    return None
