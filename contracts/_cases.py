"""A schemathesis case as the kit's ``Request``: its query spelled as it goes on the wire."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemathesis.core import NotSet

from contracts._exchanges import Request
from mockserver.spec.openapi import Operation


def request_of(operation: Operation, case: Any, headers: Mapping[str, str]) -> Request:
    """The request ``case`` makes of ``operation``, sent with ``headers``."""
    query = {str(name): wire_text(value) for name, value in (case.query or {}).items()}
    return Request(
        operation_id=operation.operation_id,
        method=operation.method,
        path=case.formatted_path,
        query=query,
        headers=dict(headers),
        body=None if isinstance(case.body, NotSet) else case.body,
    )


def wire_text(value: Any) -> str:
    """A query value as a URL carries it (a JSON boolean reads ``true``, not ``True``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
