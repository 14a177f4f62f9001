"""Constants and types shared by the tests (imported as a top-level module)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from hypothesis import settings
from starlette.testclient import TestClient

ROOT = Path(__file__).resolve().parent.parent
SPECS = Path(__file__).resolve().parent / "specs"
FULL_SPEC = SPECS / "bfl-openapi-2026-04-23.json"
KEY = "test-key"
AUTH = {"x-key": KEY}
SUBMIT = "/v1/flux-pro-1.1"
RESULT = "/v1/get_result"
CREDITS = "/v1/credits"


def profile_examples() -> int:
    """Examples per property: the loaded hypothesis profile's (dev: quick, ci: thorough)."""
    return settings().max_examples


class ClientFactory(Protocol):
    def __call__(self, **settings: Any) -> TestClient: ...
