"""BFL's published APIs for the oracle: each spec, and the models generated from it.

The modules are datamodel-code-generator's output (each header gives the command and
the hand edits); ``test_reference_models.py`` proves FastAPI writes the published
schemas back from them. Nothing here imports the mock.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel

from reference_models import bfl_2026_04_23, bfl_2026_10

# The published specs, as bfl-mock bundles them (``--spec 2026-04-23``, ``--spec 2026-10``).
SPECS = Path(__file__).resolve().parent.parent.parent / "mockserver" / "spec" / "published"
COMPONENT_PREFIX = "#/components/schemas/"
ASYNC_RESPONSES = frozenset({"AsyncResponse", "AsyncWebhookResponse"})
"""What a generation operation answers: BFL's names, read from its 200 response."""


@dataclasses.dataclass(frozen=True)
class Generation:
    """One operation that submits a task: where it is, and the model of its body."""

    path: str
    operation_id: str
    body: type[BaseModel]


@dataclasses.dataclass(frozen=True)
class Published:
    """One spec BFL published, and the models generated from it."""

    name: str
    spec: Path
    models: ModuleType

    @functools.cached_property
    def document(self) -> Mapping[str, Any]:
        loaded: Mapping[str, Any] = json.loads(self.spec.read_bytes())
        return loaded

    @functools.cached_property
    def generations(self) -> tuple[Generation, ...]:
        """The spec's POST operations that answer AsyncResponse or AsyncWebhookResponse."""
        found = []
        for path, item in self.document["paths"].items():
            operation = item.get("post")
            if operation is None or _answered(operation) - ASYNC_RESPONSES:
                continue
            body = operation["requestBody"]["content"]["application/json"]["schema"]
            model = getattr(self.models, body["$ref"].removeprefix(COMPONENT_PREFIX))
            found.append(Generation(path, operation["operationId"], model))
        return tuple(found)

    def generation(self, path: str) -> Generation:
        return next(generation for generation in self.generations if generation.path == path)


def _answered(operation: Mapping[str, Any]) -> set[str]:
    """Component names the 200 response is made of (one $ref, or anyOf branches); {""} if none."""
    content = operation.get("responses", {}).get("200", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    return {
        branch.get("$ref", "").removeprefix(COMPONENT_PREFIX)
        for branch in schema.get("anyOf", [schema])
    }


APRIL_2026 = Published("2026-04-23", SPECS / "bfl-openapi-2026-04-23.json", bfl_2026_04_23)
OCTOBER_2026 = Published("2026-10", SPECS / "bfl-openapi-2026-10.json", bfl_2026_10)
PUBLISHED = (APRIL_2026, OCTOBER_2026)
