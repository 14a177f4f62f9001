"""Strict mode: check the mock's own answers against the spec's response schemas.

Statuses the spec does not document (401/403 for keys, 404 for an unknown task,
402, 429) are the real API's behaviour beyond its spec; their bodies are not checked.
One documented status carries an undocumented body: a poll of a task that failed on an
input it cannot read answers 422 with the task itself (live capture, research
endpoints.md 0), which is checked against the poll's 200 schema instead.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from mockserver.spec.openapi import Operation, OperationKind, Spec

VALIDATION_STATUS = 422


class ResponseChecker:
    def __init__(self, spec: Spec) -> None:
        self._components = spec.document.get("components", {})
        self._validators: dict[tuple[str, int], jsonschema.protocols.Validator] = {}

    def problems(self, operation: Operation, status: int, body: bytes) -> tuple[str, ...]:
        """Where a response breaks the spec; empty when it conforms or is undocumented."""
        schema = operation.responses.get(status)
        if schema is None:
            return ()
        try:
            document = json.loads(body)
        except ValueError as error:
            return (f"{operation.operation_id} {status}: body is not JSON ({error})",)
        problems = self._problems(operation, status, schema, document)
        if problems and operation.kind is OperationKind.RESULT and status == VALIDATION_STATUS:
            task = operation.responses.get(200)
            if task is not None and not self._problems(operation, 200, task, document):
                return ()
        return problems

    def _problems(
        self, operation: Operation, status: int, schema: Any, document: Any
    ) -> tuple[str, ...]:
        validator = self._validator(operation, status, schema)
        return tuple(
            f"{operation.operation_id} {status}: {_describe(error)}"
            for error in validator.iter_errors(document)
        )

    def _validator(
        self, operation: Operation, status: int, schema: Any
    ) -> jsonschema.protocols.Validator:
        key = (operation.operation_id, status)
        if key not in self._validators:
            # Local "#/components/..." references resolve against the embedded components.
            rooted = {**schema, "components": self._components}
            self._validators[key] = jsonschema.Draft202012Validator(rooted)
        return self._validators[key]


def _describe(error: jsonschema.ValidationError) -> str:
    path = "/".join(str(part) for part in error.absolute_path)
    text = f"at {path}: {error.message}" if path else error.message
    if error.context:
        # For anyOf/oneOf, name the branch that came closest.
        text += f" (closest: {jsonschema.exceptions.best_match(error.context).message})"
    return text
