"""FastAPI's error bodies: 422s from validation and refusals, its bare 500.

A validation error's ``input`` and ``ctx`` are rendered as FastAPI's
``jsonable_encoder`` makes them, including where that crashes into a 500.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.responses import PlainTextResponse, Response

from mockserver.domain.generation import Refused
from mockserver.render.wire import (
    compact_c_encoder,
    detail,
    encode_json,
    encode_json_safely,
    json_body_response,
)
from mockserver.spec.validation import BODY_LOC, UNPARSABLE_BODY, FieldError, Rejected

VALIDATION_STATUS = 422
VALUE_ERROR, VALUE_ERROR_PREFIX = "value_error", "Value error, "
"""pydantic's error type and message prefix for a validator that raised ``ValueError``."""
INTERNAL_ERROR = "Internal Server Error"


def refusal(refused: Refused, raw_body: Any) -> Response:
    """A business rule's refusal, in the shape FastAPI gives it.

    A 422 as a pydantic validator raising ``ValueError`` gives it (the spec's
    ``HTTPValidationError``); any other status as an ``HTTPException``.
    """
    if refused.status != VALIDATION_STATUS:
        return detail(refused.status, refused.detail)
    value = (
        raw_body.get(refused.field) if refused.field and isinstance(raw_body, dict) else raw_body
    )
    error = FieldError(
        type=VALUE_ERROR,
        loc=(BODY_LOC, refused.field) if refused.field else (BODY_LOC,),
        msg=VALUE_ERROR_PREFIX + refused.detail,
        input=value,
        ctx={"error": {}},
    )
    return rejection(Rejected(VALIDATION_STATUS, errors=(error,)), framework_500s=False)


def internal_error() -> Response:
    return PlainTextResponse(INTERNAL_ERROR, 500)


def rejection(rejected: Rejected, *, framework_500s: bool) -> Response:
    if not rejected.errors:
        return detail(rejected.status, rejected.detail or "", rejected.headers)
    try:
        body = _encode_errors(rejected.errors)
    except (ValueError, RecursionError):
        # FastAPI crashes here: NaN or infinity in ``input``, body bytes or a lone
        # surrogate that is not UTF-8, or an ``input`` nested too deep to render.
        if framework_500s:
            return internal_error()
        try:
            body = encode_json_safely(
                {"detail": [jsonable_error(e, lenient=True) for e in rejected.errors]}
            )
        except RecursionError:
            # Only a few levels short of what the JSON decoder refuses: answer as if it had.
            return detail(400, UNPARSABLE_BODY)
    return json_body_response(body, rejected.status, rejected.headers)


def _encode_errors(errors: Iterable[FieldError]) -> bytes:
    """``{"detail": [...]}`` as ``jsonable_error(lenient=False)`` and ``encode_json`` give it.

    In one pass of the C encoder: values JSON has no type for go through
    ``_strict_default``, which is what ``_jsonable`` makes of them. (Their dict keys are
    strings: they come from JSON bodies and pydantic's ``ctx``.)
    """
    entries = []
    for error in errors:
        entry = {"type": error.type, "loc": error.loc, "msg": error.msg, "input": error.input}
        if error.ctx is not None:
            entry["ctx"] = error.ctx
        entries.append(entry)
    if _C_ENCODE_ERRORS is None:  # pragma: no cover - Python without the C accelerator
        return encode_json({"detail": [jsonable_error(e, lenient=False) for e in errors]})
    return "".join(_C_ENCODE_ERRORS({"detail": entries}, 0)).encode("utf-8")


def _strict_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()  # not UTF-8: UnicodeDecodeError, a ValueError, as in _jsonable
    if isinstance(value, Mapping):
        return dict(value)
    return str(value)


_C_ENCODE_ERRORS = compact_c_encoder(_strict_default)


def jsonable_error(error: FieldError, *, lenient: bool) -> dict[str, Any]:
    """One entry of a 422's ``detail`` list as ``jsonable_encoder`` gives it (``_jsonable``)."""
    entry = {"type": error.type, "loc": list(error.loc), "msg": error.msg, "input": error.input}
    if error.ctx is not None:
        entry["ctx"] = dict(error.ctx)
    return _jsonable(entry, lenient=lenient)  # type: ignore[no-any-return]


def _jsonable(value: Any, *, lenient: bool) -> Any:
    """What FastAPI's ``jsonable_encoder`` makes of validation inputs and contexts.

    With ``lenient``, what FastAPI would crash on is spelled out instead: undecodable
    bytes with replacement characters, NaN and infinities as strings. Containers are
    walked with a stack of our own, not by recursion: an input may nest as deep as the
    JSON decoder allowed, which is deeper than Python recursion here could follow.
    """
    root: list[Any] = [None]
    pending: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    while pending:
        item, parent, slot = pending.pop()
        if isinstance(item, dict):
            converted: dict[str, Any] = {}
            for key, child in item.items():
                converted[str(key)] = None
                pending.append((child, converted, str(key)))
            parent[slot] = converted
        elif isinstance(item, (list, tuple)):
            items: list[Any] = [None] * len(item)
            pending.extend((child, items, index) for index, child in enumerate(item))
            parent[slot] = items
        else:
            parent[slot] = _jsonable_scalar(item, lenient=lenient)
    return root[0]


def _jsonable_scalar(value: Any, *, lenient: bool) -> Any:
    if isinstance(value, bytes):
        return value.decode(errors="replace" if lenient else "strict")
    if isinstance(value, float) and lenient and not math.isfinite(value):
        return {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[str(value)]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
