"""JSON on the wire as FastAPI writes it, and responses that carry it.

JSON is compact (``separators=(",", ":")``, ``ensure_ascii=False``) like FastAPI's
``JSONResponse``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from starlette.responses import Response

JSON = "application/json"
_JSON_CONTENT_TYPE = (b"content-type", JSON.encode())

_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))
_C_MAKE_ENCODER: Any = getattr(json.encoder, "c_make_encoder", None)


def compact_c_encoder(default: Callable[[Any], Any]) -> Any:
    """A C encoder spelling JSON as ``_ENCODER`` does, or None on a Python without one.

    Built once by its caller: ``json.dumps`` and ``encode`` build a new one for every
    body, which costs more than encoding a poll answer. Without the circular-reference
    check, which bodies built here do not need. ``default`` renders what JSON has no
    type for.
    """
    if _C_MAKE_ENCODER is None:  # pragma: no cover - Python without the C accelerator
        return None
    return _C_MAKE_ENCODER(
        None, default, json.encoder.encode_basestring, None, ":", ",", False, False, False
    )


_C_ENCODE = compact_c_encoder(_ENCODER.default)


class PreparedResponse(Response):
    """A response with its header block encoded beforehand.

    Starlette's ``Response`` encodes every header again for each response.
    """

    def __init__(self, body: bytes, status_code: int, raw_headers: list[tuple[bytes, bytes]]):
        self.body = body
        self.status_code = status_code
        self.raw_headers = raw_headers
        self.background = None


def encode_json(content: Any) -> bytes:
    if _C_ENCODE is None:  # pragma: no cover - Python without the C accelerator
        return _ENCODER.encode(content).encode("utf-8")
    return "".join(_C_ENCODE(content, 0)).encode("utf-8")


def encode_json_safely(content: Any) -> bytes:
    """``encode_json``, with lone surrogates (valid JSON escapes, not UTF-8) as U+FFFD."""
    try:
        return encode_json(content)
    except UnicodeEncodeError:
        text = _ENCODER.encode(content)
        return without_lone_surrogates(text).encode("utf-8")


def without_lone_surrogates(text: str) -> str:
    """``text`` with each unpaired surrogate code point replaced by U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def json_response(
    content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return json_body_response(encode_json_safely(content), status_code, headers)


def json_body_response(
    body: bytes, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON body already encoded, with the headers Starlette's ``Response`` would write.

    In Starlette's order: the given headers (names lowered), then Content-Length and
    Content-Type.
    """
    if status_code < 200 or status_code in (204, 304):
        return Response(body, status_code, headers, media_type=JSON)
    raw = [(b"content-length", str(len(body)).encode()), _JSON_CONTENT_TYPE]
    if headers:
        raw[:0] = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    return PreparedResponse(body, status_code, raw)


def detail(status_code: int, text: str, headers: Mapping[str, str] | None = None) -> Response:
    """FastAPI's rendering of an ``HTTPException``."""
    return json_response({"detail": text}, status_code, headers)
