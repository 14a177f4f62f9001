"""Rendering of 422s whose inputs FastAPI's renderer cannot write."""

from __future__ import annotations

from typing import Any

from mockserver.render.fastapi_errors import rejection
from mockserver.spec.validation import FieldError, Rejected


def nested(depth: int) -> Any:
    """A list ``depth`` brackets deep."""
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_an_input_too_deep_to_write_is_refused_as_unparsable() -> None:
    # Deeper than json.dumps can follow: only a few levels past what the decoder allows.
    rejected = Rejected(
        422, errors=(FieldError("string_type", ("body", "prompt"), "m", nested(50_000)),)
    )
    lenient = rejection(rejected, framework_500s=False)
    assert (lenient.status_code, lenient.body) == (
        400,
        b'{"detail":"There was an error parsing the body"}',
    )
    assert rejection(rejected, framework_500s=True).status_code == 500


def test_an_input_as_deep_as_the_decoder_allows_is_written() -> None:
    rejected = Rejected(
        422, errors=(FieldError("string_type", ("body", "prompt"), "m", nested(900)),)
    )
    response = rejection(rejected, framework_500s=False)
    assert response.status_code == 422
    assert bytes(response.body).endswith(b"[" * 900 + b"]" * 900 + b"}]}")
