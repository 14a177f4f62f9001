"""Strategies for what crosses the wire, in both directions.

Requests a server must accept or refuse, and responses and lifecycles a client must handle.

Valid requests come from schemathesis's positive generation. What it lacks is written
here: invalid requests that break exactly one constraint and say which one, and
responses that lean on the awkward corners of their schemas (see ``_json_values``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from contracts._cases import request_of
from contracts._contract import ID, READY_RESULT_SCHEMA, RESULT, STATUS, Contract, load_contract
from contracts._exchanges import Broken, InvalidRequest, Lifecycle, Request
from contracts._json_values import ValueBuilder
from contracts._media import media_value
from mockserver.domain.endpoints import load_table
from mockserver.domain.media import InputKind
from mockserver.spec.openapi import JsonSchema, Operation, TaskStatus

if TYPE_CHECKING:
    from schemathesis.specs.openapi.schemas import OpenApiSchema

DEFAULT_API_KEY = "bfl-mock-contract-key"
ALL_HEALTH_CHECKS = list(HealthCheck)
BODY = "body"
NOT_A_NUMBER = "not a number"
"""A string pydantic's lax mode cannot read as a number or a boolean."""
NOT_A_URL = "not a url"


def from_request(
    operation_id: str, *, contract: Contract | None = None, api_key: str = DEFAULT_API_KEY
) -> st.SearchStrategy[Request]:
    """Requests for ``operation_id`` that keep every constraint of the spec.

    ``api_key`` is sent in the spec's API-key header when the operation declares one.
    Fields that carry media (the endpoint table's ``inputs``: images, videos, keyframes)
    hold real, small ones, as raw base64 or data URIs, so a valid request can succeed.
    """
    contract = contract or load_contract()
    operation = contract.operation(operation_id)
    api_operation = _schemathesis_schema(contract).find_operation_by_id(operation_id)
    cases: st.SearchStrategy[Any] = api_operation.as_strategy()
    requests = cases.map(lambda case: _request(operation, case, api_key))
    kind_of = load_table().for_path(operation.path).input_kind

    @st.composite
    def with_media(draw: st.DrawFn) -> Request:
        request = draw(requests)
        if not isinstance(request.body, dict):
            return request
        body = dict(request.body)
        for field, value in request.body.items():
            kind = kind_of(field)
            if kind is not None and kind is not InputKind.BUNDLE and value is not None:
                body[field] = draw(media_value(kind, value))
        return dataclasses.replace(request, body=body)

    return with_media()


def from_invalid_request(
    operation_id: str, *, contract: Contract | None = None, api_key: str = DEFAULT_API_KEY
) -> st.SearchStrategy[InvalidRequest]:
    """Requests that break exactly one constraint of ``operation_id``, labelled with it.

    Each is a valid request with one change: a value out of range, not a multiple, of
    the wrong type (one pydantic's lax mode would not convert), not in the enum, too
    long, not a URL; or a required value left out. ``broken.loc`` is the ``loc`` a
    FastAPI server reports in its 422. Empty for an operation with nothing to break.
    """
    contract = contract or load_contract()
    operation = contract.operation(operation_id)
    mutations = breakable(contract, operation)
    if not mutations:
        return st.nothing()

    @st.composite
    def invalid(draw: st.DrawFn) -> InvalidRequest:
        request = draw(from_request(operation_id, contract=contract, api_key=api_key))
        mutation = draw(st.sampled_from(mutations))
        value = draw(mutation.values)
        return InvalidRequest(mutation.apply(request, value), mutation.broken(value))

    return invalid()


def from_response(
    operation_id: str,
    status: int = 200,
    *,
    contract: Contract | None = None,
    extra_keys: bool = True,
) -> st.SearchStrategy[Any]:
    """JSON bodies valid for the response ``status`` of ``operation_id``.

    Every ``anyOf`` branch is drawn (AsyncResponse and AsyncWebhookResponse for a
    submit), optional keys are absent or null, objects carry keys the schema does not
    name (unless ``extra_keys=False``), and numbers favour their boundaries.
    """
    contract = contract or load_contract()
    operation = contract.operation(operation_id)
    schema = contract.response_schema(operation, status)
    if schema is None:
        documented = ", ".join(str(code) for code in operation.responses)
        raise ValueError(f"{operation_id} documents no JSON body for {status} (only {documented})")
    return _builder(contract, extra_keys).strategy(schema)


def from_schema(
    schema: JsonSchema | bool, *, contract: Contract | None = None, extra_keys: bool = True
) -> st.SearchStrategy[Any]:
    """Values valid for ``schema``, a JSON Schema whose references point into the contract.

    They lean on what clients get wrong: each ``anyOf`` branch, optional keys absent and
    null, keys the schema does not name (unless ``extra_keys=False``), boundary numbers.
    """
    return _builder(contract or load_contract(), extra_keys).strategy(schema)


def from_lifecycle(
    *,
    contract: Contract | None = None,
    task_id: str | None = None,
    max_pending: int = 4,
    extra_keys: bool = True,
) -> st.SearchStrategy[Lifecycle]:
    """Poll bodies of one task: ``Pending`` up to ``max_pending`` times, then a final status.

    Each body is valid for the spec's poll response. The final status is any the spec
    lists as final (Ready, Error, the moderation statuses); a Ready ``result`` has the
    shape of ``READY_RESULT_SCHEMA`` (only ``sample`` required). Everything else the
    schema leaves open is drawn: progress as a number or null, details, extra keys.
    """
    contract = contract or load_contract()
    builder = _builder(contract, extra_keys)
    body_schema = contract.response_schema(contract.result_operation, 200) or {}
    bodies = builder.strategy(body_schema)
    results = builder.strategy(READY_RESULT_SCHEMA)
    pending = contract.status(TaskStatus.PENDING)
    ready = contract.status(TaskStatus.READY)
    finals = sorted(contract.final_statuses, key=lambda text: text != ready)  # Ready first
    ids = st.just(task_id) if task_id is not None else st.uuids().map(str)

    def stage(task: str, status: str, body: Mapping[str, Any], result: Any) -> dict[str, Any]:
        staged = {**body, ID: task, STATUS: status}
        if status == ready:
            staged[RESULT] = result
        elif RESULT in staged:
            staged[RESULT] = None  # only a Ready task has a result
        return staged

    @st.composite
    def lifecycles(draw: st.DrawFn) -> Lifecycle:
        task = draw(ids)
        count = draw(st.integers(0, max_pending))
        stages = [stage(task, pending, draw(bodies), None) for _ in range(count)]
        final = draw(st.sampled_from(finals))
        stages.append(stage(task, final, draw(bodies), draw(results)))
        return Lifecycle(tuple(stages))

    return lifecycles()


@dataclasses.dataclass(frozen=True, slots=True)
class Mutation:
    """One way to break one constraint of an operation."""

    loc: tuple[str | int, ...]
    keyword: str
    values: st.SearchStrategy[Any]
    """Offending values; ``st.just(REMOVED)`` when the value is left out."""

    def broken(self, value: Any) -> Broken:
        return Broken(self.loc, self.keyword, None if value is REMOVED else value)

    def apply(self, request: Request, value: Any) -> Request:
        where, *rest = self.loc
        if where == BODY:
            if not rest:
                return dataclasses.replace(request, body=None)
            body = dict(request.body or {})
            _set(body, str(rest[0]), value)
            return dataclasses.replace(request, body=body)
        query = dict(request.query)
        _set(query, str(rest[0]), value)
        return dataclasses.replace(request, query=query)


REMOVED: Any = object()


def breakable(contract: Contract, operation: Operation) -> list[Mutation]:
    """Every single-constraint mutation the spec allows for ``operation``."""
    mutations: list[Mutation] = []
    if operation.body_schema is not None:
        body = contract.resolve(operation.body_schema)
        if operation.body_required:
            mutations.append(Mutation((BODY,), "required", st.just(REMOVED)))
        required = set(body.get("required", ()))
        for name, schema in body.get("properties", {}).items():
            loc = (BODY, name)
            if name in required:
                mutations.append(Mutation(loc, "required", st.just(REMOVED)))
            mutations.extend(_value_mutations(contract, loc, schema))
    for parameter in operation.parameters:
        if parameter.location != "query":
            continue
        loc = ("query", parameter.name)
        if parameter.required:
            mutations.append(Mutation(loc, "required", st.just(REMOVED)))
        schema = _single(contract, parameter.schema)
        if schema is not None and schema.get("type") in ("integer", "number", "boolean"):
            mutations.append(Mutation(loc, "type", st.just(NOT_A_NUMBER)))
    return mutations


def _value_mutations(contract: Contract, loc: tuple[str, ...], raw: JsonSchema) -> list[Mutation]:
    schema = _single(contract, raw)
    if schema is None:
        return []  # a union of several types: no one constraint to break
    kind = schema.get("type")
    found: list[Mutation] = []
    if kind in ("integer", "number", "boolean", "string") or "enum" in schema:
        found.append(Mutation(loc, "type", st.just(_wrong_type(schema))))
    if "enum" in schema:
        allowed = set(schema["enum"])
        found.append(Mutation(loc, "enum", st.text(max_size=8).filter(lambda v: v not in allowed)))
    if kind in ("integer", "number"):
        found.extend(_number_mutations(loc, schema, integer=kind == "integer"))
    if kind == "string":
        found.extend(_string_mutations(loc, schema))
    return found


def _number_mutations(loc: tuple[str, ...], schema: JsonSchema, *, integer: bool) -> list[Mutation]:
    step = schema.get("multipleOf") if integer else None
    unit = step if isinstance(step, int) and step > 0 else 1
    low, high = schema.get("minimum"), schema.get("maximum")
    found = []
    if low is not None:
        below = math.ceil(low) - 1 if integer else low - 0.5
        below = (below // unit) * unit if integer else below
        found.append(
            Mutation(loc, "minimum", st.integers(max_value=0).map(lambda k: below + k * unit))
        )
    if high is not None:
        above = math.floor(high) + 1 if integer else high + 0.5
        above = -((-above) // unit) * unit if integer else above
        found.append(
            Mutation(loc, "maximum", st.integers(min_value=0).map(lambda k: above + k * unit))
        )
    if isinstance(step, int) and step > 1:
        first = math.ceil(low) if low is not None else -(10**6)
        last = math.floor(high) if high is not None else 10**6
        off = st.integers(first, last).filter(lambda value: value % step != 0)
        found.append(Mutation(loc, "multipleOf", off))
    return found


def _string_mutations(loc: tuple[str, ...], schema: JsonSchema) -> list[Mutation]:
    found = []
    high = schema.get("maxLength")
    is_url = schema.get("format") == "uri"
    if high is not None:
        prefix = "https://webhook.invalid/" if is_url else ""
        longer = st.integers(1, 8).map(lambda extra: prefix + "a" * (high + extra - len(prefix)))
        found.append(Mutation(loc, "maxLength", longer))
    low = schema.get("minLength", 0)
    if low > 0 and not is_url:  # a URL shorter than minLength 1 would not be a URL either
        found.append(Mutation(loc, "minLength", st.text(max_size=low - 1)))
    if is_url:
        found.append(Mutation(loc, "format", st.just(NOT_A_URL)))
    return found


def _wrong_type(schema: JsonSchema) -> Any:
    """A value of a JSON type the schema refuses and pydantic's lax mode does not convert."""
    if schema.get("type") == "string" or "enum" in schema:
        return [NOT_A_NUMBER]
    return NOT_A_NUMBER


def _single(contract: Contract, raw: JsonSchema) -> JsonSchema | None:
    """The one schema a value must meet when not null; None for real unions."""
    schema = contract.resolve(raw)
    branches = schema.get("anyOf") or schema.get("oneOf")
    if not branches:
        return schema
    kept = [contract.resolve(b) for b in branches if contract.resolve(b).get("type") != "null"]
    return kept[0] if len(kept) == 1 else None


def _set(container: dict[str, Any], key: str, value: Any) -> None:
    if value is REMOVED:
        container.pop(key, None)
    else:
        container[key] = value


def _builder(contract: Contract, extra_keys: bool) -> ValueBuilder:
    return contract.derived(
        f"values, extra keys {extra_keys}", lambda: ValueBuilder(contract, extra_keys=extra_keys)
    )


def _schemathesis_schema(contract: Contract) -> OpenApiSchema:
    def read() -> OpenApiSchema:
        config = schemathesis.Config.from_dict({"generation": {"allow-extra-parameters": False}})
        return schemathesis.openapi.from_dict(contract.plain_document(), config=config)

    return contract.derived("schemathesis schema", read)


def _request(operation: Operation, case: Any, api_key: str) -> Request:
    headers = {
        str(name): str(value)
        for name, value in (case.headers or {}).items()
        if operation.api_key_header is None or name.lower() != operation.api_key_header.lower()
    }
    if operation.api_key_header:
        headers[operation.api_key_header] = api_key
    return request_of(operation, case, headers)


def run_settings(max_examples: int, *phases: Phase) -> settings:
    """Settings of the kit's own hypothesis runs: the user's profile, and no database.

    No deadline or health check either: a server's pace and a client's are not the
    kit's to judge.
    """
    return settings(
        settings.get_profile("default"),
        max_examples=max_examples,
        database=None,
        deadline=None,
        phases=phases,
        suppress_health_check=ALL_HEALTH_CHECKS,
    )
