"""Read an OpenAPI document into the few typed facts the mock runs on.

The document is the only description of the API: routes, request schemas, security,
response schemas and status spellings all come from here. Operations are classified
by what their 200 response is, so any BFL spec (the seed, or the full published one)
is served without code for a particular endpoint.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib.resources
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mockserver.errors import SpecError

BUNDLED_SPEC = "openapi.json"
SCHEMA_REF_PREFIX = "#/components/schemas/"

# Component names BFL's FastAPI server gives the response models that decide an
# operation's role. They are the spec's own names, read from its $refs.
ASYNC_RESPONSES = frozenset({"AsyncResponse", "AsyncWebhookResponse"})
RESULT_RESPONSE = "ResultResponse"
CREDITS_RESPONSE = "CreditsResponse"
STATUS_PROPERTY = "status"

JsonSchema = Mapping[str, Any]


class OperationKind(enum.Enum):
    GENERATION = "generation"
    """Submits a task: answers AsyncResponse / AsyncWebhookResponse."""
    RESULT = "result"
    """Polls a task: answers ResultResponse."""
    CREDITS = "credits"
    """Reports the balance: answers CreditsResponse."""
    OTHER = "other"
    """Anything else (finetune management): answered with a minimal valid body."""


class TaskStatus(enum.Enum):
    """Task states the mock reports. Wire spellings come from the spec's status enum."""

    TASK_NOT_FOUND = enum.auto()
    PENDING = enum.auto()
    REQUEST_MODERATED = enum.auto()
    CONTENT_MODERATED = enum.auto()
    READY = enum.auto()
    ERROR = enum.auto()

    @property
    def is_final(self) -> bool:
        return self not in (TaskStatus.PENDING, TaskStatus.TASK_NOT_FOUND)


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
    result_keys: tuple[str, ...]
    """Property order of the poll response, which is also the real API's key order."""

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
    """Load ``path``, or the bundled ``openapi.json``, and check it can drive the mock."""
    if path is None:
        raw = importlib.resources.files("mockserver.spec").joinpath(BUNDLED_SPEC).read_bytes()
    else:
        try:
            raw = Path(path).read_bytes()
        except OSError as error:
            raise SpecError(f"cannot read spec {path}: {error}") from error
    return parse_spec(raw)


def parse_spec(raw: bytes) -> Spec:
    try:
        document = json.loads(raw)
    except ValueError as error:
        raise SpecError(f"the spec is not valid JSON: {error}") from error
    if not isinstance(document, dict) or not isinstance(document.get("paths"), dict):
        raise SpecError("the spec has no 'paths' object")
    shell = Spec(raw=raw, document=document, operations=(), statuses={}, result_keys=())
    operations = tuple(_read_operations(shell))
    if not any(op.kind is OperationKind.RESULT for op in operations):
        raise SpecError(f"the spec has no operation answering {RESULT_RESPONSE} (get_result)")
    result_schema = shell.component(SCHEMA_REF_PREFIX + RESULT_RESPONSE)
    properties = result_schema.get("properties", {})
    if STATUS_PROPERTY not in properties:
        raise SpecError(f"{RESULT_RESPONSE} has no '{STATUS_PROPERTY}' property")
    statuses = _read_statuses(shell.resolve(properties[STATUS_PROPERTY]))
    return dataclasses.replace(
        shell, operations=operations, statuses=statuses, result_keys=tuple(properties)
    )


def _read_statuses(schema: JsonSchema) -> dict[TaskStatus, str]:
    spelled = {_constant_name(value): value for value in schema.get("enum", [])}
    missing = [status.name for status in TaskStatus if status.name not in spelled]
    if missing:
        raise SpecError(f"the task status enum lacks {', '.join(missing)}: {schema.get('enum')}")
    return {status: spelled[status.name] for status in TaskStatus}


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
                    kind=_classify(spec, method, responses.get(200)),
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


def _classify(spec: Spec, method: str, ok_schema: JsonSchema | None) -> OperationKind:
    names = _referenced_names(ok_schema)
    if method == "post" and names and names <= ASYNC_RESPONSES:
        return OperationKind.GENERATION
    if method == "get" and names == {RESULT_RESPONSE}:
        return OperationKind.RESULT
    if method == "get" and names == {CREDITS_RESPONSE}:
        return OperationKind.CREDITS
    return OperationKind.OTHER


def _referenced_names(schema: JsonSchema | None) -> set[str]:
    """Component names a response schema is made of (directly or as anyOf/oneOf branches)."""
    if not schema:
        return set()
    if "$ref" in schema:
        return {str(schema["$ref"]).removeprefix(SCHEMA_REF_PREFIX)}
    branches: Sequence[JsonSchema] = schema.get("anyOf") or schema.get("oneOf") or []
    return set().union(*(_referenced_names(branch) for branch in branches))


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
