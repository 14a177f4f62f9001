"""Every body the mock sends is rendered here, as the real API renders it.

JSON is compact (``separators=(",", ":")``, ``ensure_ascii=False``) like FastAPI's
``JSONResponse``, and keys come in the order of the spec's response schemas, which
is the order BFL's server emits them in.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime
import functools
import hashlib
import json
import math
import uuid
from collections.abc import Iterable, Mapping
from email.utils import format_datetime
from http import HTTPStatus
from typing import Any

from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from mockserver.domain.endpoints import DEFAULT_ROW, BehaviourTable
from mockserver.domain.generation import Refused
from mockserver.domain.pricing import Price
from mockserver.errors import SpecError
from mockserver.render.images import RenderedImage
from mockserver.settings import SubmitCost, WebhookStyle
from mockserver.spec.openapi import JsonSchema, OperationKind, Spec, TaskStatus
from mockserver.spec.validation import BODY_LOC, UNPARSABLE_BODY, FieldError, Rejected

JSON = "application/json"
INSUFFICIENT_CREDITS = "Insufficient credits"
TOO_MANY_TASKS = "Too many active tasks"
FAULT_DETAILS = {402: INSUFFICIENT_CREDITS, 429: TOO_MANY_TASKS}
RETRY_STATUSES = frozenset({429, 503})
WEBHOOK_SUCCESS, WEBHOOK_FAILURE = "SUCCESS", "FAILED"
ERROR_DETAIL = "error"
"""The key of an ``Error`` task's message in its ``details``."""
_JSON_CONTENT_TYPE = (b"content-type", JSON.encode())
TASK_BODY_MEMO_SIZE = 4096
XML = "application/xml"
VALIDATION_STATUS = 422
VALUE_ERROR, VALUE_ERROR_PREFIX = "value_error", "Value error, "
"""pydantic's error type and message prefix for a validator that raised ``ValueError``."""
INTERNAL_ERROR = "Internal Server Error"
NOT_FOUND = "Not Found"
METHOD_NOT_ALLOWED = "Method Not Allowed"

# Keys of the poll body the mock fills; their order comes from the spec.
ID, STATUS, RESULT, PROGRESS, DETAILS = "id", "status", "result", "progress", "details"
POLLING_URL, WEBHOOK_URL = "polling_url", "webhook_url"
COST, INPUT_MP, OUTPUT_MP = "cost", "input_mp", "output_mp"

# What Azure Blob Storage answers for a sample URL it will not serve.
DELIVERY_HEADERS = {
    "Cache-Control": "max-age=1200",
    "Accept-Ranges": "bytes",
    "x-ms-blob-type": "BlockBlob",
    "x-ms-lease-state": "available",
    "x-ms-lease-status": "unlocked",
    "x-ms-server-encrypted": "true",
    "x-ms-version": "2024-11-04",
}
_AZURE_AUTH_FAILED = (
    "Server failed to authenticate the request. Make sure the value of Authorization "
    "header is formed correctly including the signature."
)


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))
# The C encoder behind ``_ENCODER``, built once: ``json.dumps`` and ``encode`` build a
# new one for every body, which costs more than encoding a poll answer. Without the
# circular-reference check, which bodies built here do not need.
_C_MAKE_ENCODER: Any = getattr(json.encoder, "c_make_encoder", None)
_C_ENCODE = (
    _C_MAKE_ENCODER(
        None, _ENCODER.default, json.encoder.encode_basestring, None, ":", ",", False, False, False
    )
    if _C_MAKE_ENCODER is not None
    else None
)


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
                {"detail": [_error_entry(e, lenient=True) for e in rejected.errors]}
            )
        except RecursionError:
            # Only a few levels short of what the JSON decoder refuses: answer as if it had.
            return detail(400, UNPARSABLE_BODY)
    return json_body_response(body, rejected.status, rejected.headers)


def _encode_errors(errors: Iterable[FieldError]) -> bytes:
    """``{"detail": [...]}`` as ``_error_entry(lenient=False)`` and ``encode_json`` give it.

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
        return encode_json({"detail": [_error_entry(e, lenient=False) for e in errors]})
    return "".join(_C_ENCODE_ERRORS({"detail": entries}, 0)).encode("utf-8")


def _strict_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()  # not UTF-8: UnicodeDecodeError, a ValueError, as in _jsonable
    if isinstance(value, Mapping):
        return dict(value)
    return str(value)


_C_ENCODE_ERRORS = (
    _C_MAKE_ENCODER(
        None, _strict_default, json.encoder.encode_basestring, None, ":", ",", False, False, False
    )
    if _C_MAKE_ENCODER is not None
    else None
)


def _error_entry(error: FieldError, *, lenient: bool) -> dict[str, Any]:
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


@dataclasses.dataclass(frozen=True, slots=True)
class SampleResult:
    """``result`` of a Ready task: the values an endpoint's result may hold, and which it does.

    The spec leaves ``result`` untyped; each endpoint family sends its own keys in its own
    order (endpoint table, ``result_keys``; live captures).
    """

    keys: tuple[str, ...]
    sample: str
    prompt: str
    seed: int
    start_time: float
    end_time: float
    duration: float
    draft_cache: str | None = None
    """A draft video's bundle URL (flux-3-video ``draft``)."""

    @property
    def draft_caches(self) -> list[str] | None:
        return None if self.draft_cache is None else [self.draft_cache]

    def as_json(self) -> dict[str, Any]:
        """The endpoint's keys in order; dataclasses.asdict would deep-copy each value."""
        return {name: getattr(self, name) for name in self.keys}


RESULT_FIELDS = frozenset(
    {field.name for field in dataclasses.fields(SampleResult)} - {"keys"} | {"draft_caches"}
)
"""What a ``result_keys`` list in the endpoint table may name."""


class Renderer:
    """Bodies whose keys and spellings come from one spec."""

    def __init__(self, spec: Spec) -> None:
        self._spec = spec
        self._statuses = spec.statuses
        self._result_keys = spec.result_keys
        self._settled_key = spec.settled_cost_key
        self._settled_keys = spec.poll_shape(settled=True).keys
        self._credits_key = _credits_key(spec)
        # A task is polled many times with the same answer; its body is a pure function
        # of these arguments, so each distinct one is encoded once (bounded).
        self._task_body = functools.lru_cache(maxsize=TASK_BODY_MEMO_SIZE)(self._encode_task)

    def status_text(self, status: TaskStatus) -> str:
        return self._statuses[status]

    def check_result_keys(self, table: BehaviourTable) -> None:
        """Refuse, at start-up, a table row whose ``result_keys`` names an unknown field."""
        for path in (*table.paths, DEFAULT_ROW):
            behaviour = table.for_path(path)
            unknown = set(behaviour.result_keys) | set(behaviour.draft_keys)
            unknown -= RESULT_FIELDS
            if unknown:
                raise SpecError(
                    f"endpoint table row {path!r}: unknown result keys {sorted(unknown)}; "
                    f"known: {sorted(RESULT_FIELDS)}"
                )

    @property
    def settles_cost(self) -> bool:
        """Whether the served spec has a poll answer carrying a settled cost."""
        return self._settled_key is not None

    def submitted(
        self,
        *,
        task_id: str,
        polling_url: str,
        webhook_url: str | None,
        cost_mode: SubmitCost,
        price: Price,
        numeric: bool,
    ) -> Response:
        """``AsyncResponse``, or ``AsyncWebhookResponse`` when a webhook was given.

        ``numeric``: the endpoint reports cost and megapixels on submit (else null).
        """
        body: dict[str, Any]
        if webhook_url is None:
            body = {ID: task_id, POLLING_URL: polling_url}
        else:
            body = {
                ID: task_id,
                STATUS: self._statuses[TaskStatus.PENDING],
                WEBHOOK_URL: webhook_url,
            }
        if cost_mode is SubmitCost.PRICE or (cost_mode is SubmitCost.ENDPOINT and numeric):
            body.update({COST: price.cost, INPUT_MP: price.input_mp, OUTPUT_MP: price.output_mp})
        elif cost_mode is not SubmitCost.ABSENT:
            body.update({COST: None, INPUT_MP: None, OUTPUT_MP: None})
        return json_response(body)

    def task(
        self,
        *,
        task_id: str,
        status: TaskStatus,
        status_code: int = 200,
        result: SampleResult | None = None,
        progress: float | None = None,
        details: Mapping[str, Any] | None = None,
        settled_cost: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """A poll answer; ``settled_cost`` picks the spec's settled-cost branch (video)."""
        if details is None:
            body = self._task_body(task_id, status, result, progress, None, settled_cost)
        else:  # a mapping: not hashable, and rare (moderation reasons)
            body = self._encode_task(task_id, status, result, progress, details, settled_cost)
        return json_body_response(body, status_code, headers)

    def _encode_task(
        self,
        task_id: str,
        status: TaskStatus,
        result: SampleResult | None,
        progress: float | None,
        details: Mapping[str, Any] | None = None,
        settled_cost: float | None = None,
    ) -> bytes:
        values = {
            ID: task_id,
            STATUS: self._statuses[status],
            RESULT: None if result is None else result.as_json(),
            PROGRESS: progress,
            DETAILS: None if details is None else dict(details),
        }
        keys = self._result_keys
        if settled_cost is not None and self._settled_key is not None:
            keys = self._settled_keys
            values[self._settled_key] = settled_cost
        return encode_json_safely({key: values.get(key) for key in keys})

    def credits(self, balance: float) -> Response:
        if self._credits_key is None:
            return json_response({})
        return json_response({self._credits_key: float(balance)})

    def minimal(self, schema: JsonSchema | None) -> Response:
        """The smallest body valid for ``schema``: for operations the mock does not model."""
        return json_response(_minimal_value(self._spec, schema))


def _credits_key(spec: Spec) -> str | None:
    """The balance's property name, read from the credits response schema."""
    for operation in spec.operations_of(OperationKind.CREDITS):
        schema = spec.resolve(operation.responses.get(200) or {})
        names = schema.get("required") or list(schema.get("properties", {}))
        return str(names[0]) if names else None
    return None


def _minimal_value(spec: Spec, schema: JsonSchema | None) -> Any:
    if not schema:
        return None
    schema = spec.resolve(schema)
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        return _minimal_value(spec, branches[0])
    if "enum" in schema:
        return schema["enum"][0]
    json_type = schema.get("type")
    if json_type == "object":
        properties = schema.get("properties", {})
        return {name: _minimal_value(spec, properties[name]) for name in schema.get("required", [])}
    return {
        "array": [],
        "string": "",
        "integer": 0,
        "number": 0.0,
        "boolean": False,
    }.get(str(json_type))


def fault(status_code: int, *, retry_after: int) -> Response:
    """An injected HTTP failure, in the shape the real stack gives each status."""
    if status_code == 500:
        return internal_error()  # what FastAPI/Starlette send for an unhandled error
    headers = {"Retry-After": str(retry_after)} if status_code in RETRY_STATUSES else None
    text = FAULT_DETAILS.get(status_code) or HTTPStatus(status_code).phrase
    return detail(status_code, text, headers)


def webhook_payload(
    style: WebhookStyle,
    *,
    task_id: str,
    status_text: str,
    succeeded: bool,
    result: SampleResult | None,
    error: str | None,
    now: float,
) -> bytes:
    """The JSON POSTed to ``webhook_url`` when a task ends."""
    result_body = None if result is None else result.as_json()
    if style is WebhookStyle.ID:
        body: dict[str, Any] = {ID: task_id, STATUS: status_text}
        if succeeded:
            body[RESULT] = result_body
        else:
            body.update({"error": status_text, "message": error})
        body["timestamp"] = _iso_seconds(now)
        return encode_json_safely(body)
    return encode_json_safely(
        {
            "task_id": task_id,
            STATUS: WEBHOOK_SUCCESS if succeeded else WEBHOOK_FAILURE,
            RESULT: result_body,
            "error": None if succeeded else error,
        }
    )


class ConnectionDropped(Exception):
    """Raised on purpose to cut a response off half-way (the ``drop`` directive)."""


SLOW_CHUNKS = 10


class ShapedResponse(Response):
    """An already rendered response, sent slowly and/or cut off half-way."""

    def __init__(self, inner: Response, *, slow: float | None, drop: bool) -> None:
        super().__init__(bytes(inner.body), inner.status_code)
        self.raw_headers = list(inner.raw_headers)
        self._slow = slow or 0.0
        self._drop = drop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        body = bytes(self.body)
        if self._drop:
            await send(
                {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
            )
            raise ConnectionDropped("bfl-mock dropped the connection on purpose (drop directive)")
        step = max(1, -(-len(body) // SLOW_CHUNKS))
        for start in range(0, len(body), step):
            await asyncio.sleep(self._slow / SLOW_CHUNKS)
            await send(
                {
                    "type": "http.response.body",
                    "body": body[start : start + step],
                    "more_body": True,
                }
            )
        await send({"type": "http.response.body", "body": b""})


@dataclasses.dataclass(frozen=True, slots=True)
class Delivered:
    """A file a delivery URL serves: an image, a video or a draft bundle."""

    data: bytes
    media_type: str
    md5: str
    """Base64 MD5 of the bytes, as Azure's Content-MD5 header carries it."""

    @classmethod
    def of(cls, data: bytes, media_type: str, md5: str | None = None) -> Delivered:
        if md5 is None:
            md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
        return cls(data, media_type, md5)

    @property
    def etag(self) -> str:
        return RenderedImage(self.data, self.media_type, self.md5).etag


def delivered(file: Delivered, *, created_at: float, head: bool = False) -> Response:
    """A delivery URL's answer, with the headers Azure Blob Storage sends."""
    headers = _delivery_headers(file.md5, file.etag, file.media_type, len(file.data), created_at)
    # A copy: whoever handles the response after us may add headers to its list.
    return PreparedResponse(b"" if head else file.data, 200, list(headers))


@functools.lru_cache(maxsize=1024)
def _delivery_headers(
    md5: str, etag: str, media_type: str, length: int, created_at: float
) -> tuple[tuple[bytes, bytes], ...]:
    """Azure's headers for one file, encoded once (keyed without the file's bytes)."""
    headers = {
        **DELIVERY_HEADERS,
        "Content-MD5": md5,
        "ETag": etag,
        "Last-Modified": _http_date(created_at),
        "x-ms-creation-time": _http_date(created_at),
        "content-length": str(length),
        "content-type": media_type,
    }
    return tuple(
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    )


def azure_error(
    status_code: int, code: str, message: str, *, now: float, extra: Iterable[tuple[str, str]] = ()
) -> Response:
    request_id = uuid.UUID(bytes=hashlib.sha256(f"{code}{now}".encode()).digest()[:16])
    tail = "".join(f"<{name}>{text}</{name}>" for name, text in extra)
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f"<Error><Code>{code}</Code><Message>{message}\nRequestId:{request_id}\n"
        f"Time:{_iso(now)}</Message>{tail}</Error>"
    )
    return Response(body.encode(), status_code, {"x-ms-error-code": code}, media_type=XML)


def expired_sample(*, signed_at: float, expires_at: float, now: float) -> Response:
    window = (
        f"Signature not valid in the specified time frame: Start [{_http_date(signed_at)}]"
        f" - Expiry [{_http_date(expires_at)}] - Current [{_http_date(now)}]"
    )
    return azure_error(
        403,
        "AuthenticationFailed",
        _AZURE_AUTH_FAILED,
        now=now,
        extra=[("AuthenticationErrorDetail", window)],
    )


def bad_signature(now: float) -> Response:
    return azure_error(
        403,
        "AuthenticationFailed",
        _AZURE_AUTH_FAILED,
        now=now,
        extra=[("AuthenticationErrorDetail", "Signature did not match.")],
    )


def blob_not_found(now: float) -> Response:
    return azure_error(404, "BlobNotFound", "The specified blob does not exist.", now=now)


def _http_date(epoch: float) -> str:
    return format_datetime(datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc), True)


def _iso_seconds(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).isoformat()


def _iso(epoch: float) -> str:
    moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
