"""Check a request the way BFL's FastAPI server does, and say why it is refused.

pydantic (through ``schema_models``) produces the field errors. What is ours is
FastAPI 0.128's framing around them, in its order:

1. the body is read and decoded first (malformed JSON -> 422 ``json_invalid``,
   undecodable bytes -> 400), before any dependency runs;
2. then the API-key dependency (missing -> 401, not accepted -> 403);
3. then path, query, header and cookie parameters, then the body, all errors
   collected into one 422 with ``loc`` prefixed by where the value came from.
"""

from __future__ import annotations

import dataclasses
import email.message
import enum
import functools
import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import to_jsonable_python

from mockserver.spec.models import ModelBuilder
from mockserver.spec.openapi import Operation, Parameter

# FastAPI's and BFL's words, each used once.
NOT_AUTHENTICATED = "Not authenticated"
INVALID_KEY = "Not authenticated - Invalid Authentication"
UNPARSABLE_BODY = "There was an error parsing the body"
KEY_CHALLENGE = {"WWW-Authenticate": "APIKey"}
BODY_LOC = "body"
JSON_INVALID = "json_invalid"
JSON_INVALID_MSG = "JSON decode error"
MISSING = "missing"
MISSING_MSG = "Field required"


@dataclasses.dataclass(frozen=True, slots=True)
class FieldError:
    """One entry of a 422 ``detail`` list, as pydantic and FastAPI spell it."""

    type: str
    loc: tuple[str | int, ...]
    msg: str
    input: Any
    ctx: Mapping[str, Any] | None = None

    @property
    def field(self) -> str:
        """Dotted location, for people: ``body.width``, ``query.id``."""
        return ".".join(str(part) for part in self.loc)


@dataclasses.dataclass(frozen=True, slots=True)
class Rejected:
    """The request is refused: status, and either field errors or a ``detail`` text."""

    status: int
    errors: tuple[FieldError, ...] = ()
    detail: str | None = None
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def describe(self) -> tuple[str, ...]:
        """One readable line per problem, for the journal and reports."""
        if self.errors:
            return tuple(f"{e.field}: {e.msg} ({e.type})" for e in self.errors)
        return (f"{self.status}: {self.detail}",)


@dataclasses.dataclass(frozen=True, slots=True)
class Accepted:
    """The request passed: the body and parameters with the spec's defaults applied."""

    body: Mapping[str, Any] | None
    params: Mapping[str, Any]
    api_key: str | None
    raw_body: Any = None
    """The body as the client sent it (JSON-decoded), for errors that quote it."""


def missing_error(*loc: str | int) -> FieldError:
    return FieldError(type=MISSING, loc=loc, msg=MISSING_MSG, input=None)


class RequestValidator:
    """Validates requests for one operation; built once at start-up."""

    def __init__(
        self,
        operation: Operation,
        builder: ModelBuilder,
        *,
        accepted_keys: frozenset[str],
        key_header: str | None,
        tag_aliases: Mapping[str, str] | None = None,
    ) -> None:
        self.operation = operation
        self._accepted_keys = accepted_keys
        self._key_header = key_header
        where = f"#/paths/{_pointer(operation.path)}/{operation.method.lower()}"
        self._body = (
            builder.adapter(operation.body_schema, f"{where}/requestBody")
            if operation.body_schema
            else None
        )
        self._params: list[tuple[Parameter, TypeAdapter[Any]]] = [
            (param, builder.adapter(param.schema, f"{where}/parameters/{param.name}"))
            for location in ("path", "query", "header", "cookie")
            for param in operation.parameters
            if param.location == location
        ]
        self.locations = frozenset(param.location for param, _ in self._params)
        """Where this operation's parameters come from: the caller parses only these."""
        self._tag = _discriminator(builder, operation) if tag_aliases else None
        self._tag_aliases = dict(tag_aliases or {})

    @property
    def reads_body(self) -> bool:
        return self._body is not None

    def parse_body(self, raw: bytes, content_type: str | None) -> Any | Rejected:
        """Decode the body as FastAPI does: JSON unless a non-JSON type is declared."""
        if not raw:
            return None
        if content_type and not _is_json(content_type):
            return raw
        try:
            return json.loads(raw)
        except json.JSONDecodeError as error:
            return Rejected(
                422,
                errors=(
                    FieldError(
                        type=JSON_INVALID,
                        loc=(BODY_LOC, error.pos),
                        msg=JSON_INVALID_MSG,
                        input={},
                        ctx={"error": error.msg},
                    ),
                ),
            )
        except Exception:  # FastAPI answers 400 to any other decoding failure
            return Rejected(400, detail=UNPARSABLE_BODY)

    def check_key(self, headers: Mapping[str, str]) -> str | Rejected | None:
        """The API key, or why it is refused; None when the operation needs none."""
        if self._key_header is None:
            return None
        key = headers.get(self._key_header)
        if not key:
            return Rejected(401, detail=NOT_AUTHENTICATED, headers=KEY_CHALLENGE)
        if self._accepted_keys and key not in self._accepted_keys:
            return Rejected(403, detail=INVALID_KEY)
        return key

    def validate(
        self,
        *,
        body: Any,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        path_params: Mapping[str, str],
        cookies: Mapping[str, str],
    ) -> Accepted | Rejected:
        key = self.check_key(headers)
        if isinstance(key, Rejected):
            return key
        errors: list[FieldError] = []
        sources = {"path": path_params, "query": query, "header": headers, "cookie": cookies}
        params: dict[str, Any] = {}
        for param, adapter in self._params:
            raw = sources[param.location].get(param.name)
            if raw is None:
                if param.required:
                    errors.append(missing_error(param.location, param.name))
                else:
                    params[param.name] = param.schema.get("default")
                continue
            value = _run(adapter, raw, (param.location, param.name), errors)
            params[param.name] = _plain(value)
        validated = None
        if self._tag is not None and isinstance(body, dict):
            # Spelled-out tags the spec's description promises (``text-to-video``): the
            # short key they stand for, before the discriminated union sees them.
            alias = body.get(self._tag)
            if isinstance(alias, str) and alias in self._tag_aliases:
                body = {**body, self._tag: self._tag_aliases[alias]}
        if self._body is not None:
            if body is None:
                if self.operation.body_required:
                    errors.append(missing_error(BODY_LOC))
            else:
                validated = _plain(_run(self._body, body, (BODY_LOC,), errors))
        if errors:
            return Rejected(422, errors=tuple(errors))
        return Accepted(body=validated, params=params, api_key=key, raw_body=body)


def _run(
    adapter: TypeAdapter[Any], value: Any, prefix: tuple[str, ...], errors: list[FieldError]
) -> Any:
    try:
        # The adapter's core validator itself: TypeAdapter.validate_python's wrapper
        # costs more than validating a task id.
        return adapter.validator.validate_python(value, from_attributes=True)
    except ValidationError as error:
        errors.extend(
            FieldError(
                type=item["type"],
                loc=(*prefix, *item["loc"]),
                msg=item["msg"],
                input=item["input"],
                ctx=item.get("ctx"),
            )
            for item in error.errors(include_url=False)
        )
        return None


def _plain(value: Any) -> Any:
    """Validated values as JSON-like data (enums as their values, URLs as strings)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, warnings=False)
    if isinstance(value, enum.Enum):
        return value.value
    return to_jsonable_python(value)


def _discriminator(builder: ModelBuilder, operation: Operation) -> str | None:
    """The property a body's discriminated union is tagged by, if it is one."""
    if operation.body_schema is None:
        return None
    tag = builder.spec.resolve(operation.body_schema).get("discriminator")
    name = tag.get("propertyName") if isinstance(tag, Mapping) else None
    return name if isinstance(name, str) else None


def _pointer(text: str) -> str:
    return text.replace("~", "~0").replace("/", "~1")


@functools.lru_cache(maxsize=64)
def _is_json(content_type: str) -> bool:
    # Clients send the same few content types; parsing one with email.message costs
    # more than the rest of a small request's validation.
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")
