"""Read an OpenAPI document into the typed facts of ``openapi``.

Operations are classified by what their 200 response is, so any BFL spec (the seed, or
the full published one) is served without code for a particular endpoint.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mockserver.errors import SpecError
from mockserver.spec import bundled
from mockserver.spec.openapi import (
    OPTIONAL_STATUSES,
    POLLING_URL,
    STATUS_PROPERTY,
    TASK_ID,
    JsonSchema,
    Operation,
    OperationKind,
    Parameter,
    PollShape,
    Spec,
    TaskStatus,
)


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
