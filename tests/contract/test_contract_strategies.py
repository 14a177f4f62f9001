"""The kit's strategies: what they draw is what they promise, and the mock agrees."""

from __future__ import annotations

import math
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from contracts import (
    Broken,
    InvalidRequest,
    Lifecycle,
    Request,
    from_invalid_request,
    from_lifecycle,
    from_request,
    from_response,
    load_contract,
)
from mockserver.spec.openapi import OperationKind

from support import FULL_SPEC, ClientFactory

pytestmark = [pytest.mark.contracts]

CONTRACT = load_contract()
SUBMIT = CONTRACT.operations_of(OperationKind.GENERATION)[0].operation_id
POLL = CONTRACT.result_operation.operation_id
CREDITS = CONTRACT.operations_of(OperationKind.CREDITS)[0].operation_id
DOCUMENTED = [
    (op.operation_id, status)
    for op in CONTRACT.operations
    for status, schema in op.responses.items()
    if schema is not None
]
KEY = "strategy-key"
# hypothesis.find searches for a feature; shrinking what it found would add nothing here.
FIND = settings(
    max_examples=2000,
    database=None,
    phases=(Phase.generate,),
    suppress_health_check=list(HealthCheck),
)


def schema_of(operation_id: str, status: int) -> Any:
    schema = CONTRACT.response_schema(CONTRACT.operation(operation_id), status)
    assert schema is not None
    return schema


@pytest.mark.property
@pytest.mark.parametrize(("operation_id", "status"), DOCUMENTED)
def test_every_drawn_response_is_valid_for_its_schema(operation_id: str, status: int) -> None:
    @given(from_response(operation_id, status))
    def check(body: Any) -> None:
        assert CONTRACT.errors(body, schema_of(operation_id, status)) == ()

    check()


def test_submit_responses_cover_both_anyof_branches() -> None:
    bodies = from_response(SUBMIT)
    polling = find(bodies, lambda body: "polling_url" in body, settings=FIND)
    webhook = find(bodies, lambda body: "webhook_url" in body and "polling_url" not in body)
    assert set(polling) >= {"id", "polling_url"}
    assert set(webhook) >= {"id", "status", "webhook_url"}


@pytest.mark.parametrize(
    ("feature", "holds"),
    [
        ("cost null", lambda body: "cost" in body and body["cost"] is None),
        ("cost absent", lambda body: "cost" not in body),
        ("cost a number", lambda body: isinstance(body.get("cost"), float)),
        ("an extra key", lambda body: set(body) - {"id", "polling_url", "status", "webhook_url",
                                                   "cost", "input_mp", "output_mp"}),
        ("a boundary number", lambda body: body.get("cost") in (0, -0.0) or (
            isinstance(body.get("cost"), float) and abs(body["cost"]) > 1e300)),
    ],
)  # fmt: skip
def test_submit_responses_reach_the_awkward_corners(feature: str, holds: Any) -> None:
    assert holds(find(from_response(SUBMIT), holds, settings=FIND)), feature


def test_extra_keys_can_be_switched_off() -> None:
    known = {"id", "polling_url", "status", "webhook_url", "cost", "input_mp", "output_mp"}

    @given(from_response(SUBMIT, extra_keys=False))
    def check(body: dict[str, Any]) -> None:
        assert set(body) <= known

    check()


def test_a_status_the_spec_does_not_document_is_refused_with_the_documented_ones() -> None:
    with pytest.raises(ValueError, match=r"documents no JSON body for 404 \(only 200, 422\)"):
        from_response(POLL, 404)


def test_integer_and_number_boundaries_are_drawn() -> None:
    lowest = find(
        from_response(CREDITS), lambda body: body["credits"] == -sys.float_info.max, settings=FIND
    )
    assert math.isfinite(lowest["credits"])
    largest = find(
        from_response(SUBMIT, 422),
        lambda body: (
            2**63 - 1 in [part for error in body.get("detail", []) for part in error["loc"]]
        ),
        settings=FIND,
    )
    assert largest["detail"]


@pytest.mark.property
@given(from_lifecycle())
def test_a_lifecycle_is_pending_then_final_and_every_poll_is_valid(lifecycle: Lifecycle) -> None:
    schema = schema_of(POLL, 200)
    statuses = [stage["status"] for stage in lifecycle.stages]
    assert all(status == "Pending" for status in statuses[:-1])
    assert statuses[-1] in CONTRACT.final_statuses
    assert len({stage["id"] for stage in lifecycle.stages}) == 1
    for stage in lifecycle.stages:
        assert CONTRACT.errors(stage, schema) == ()
    final = lifecycle.final
    if final["status"] == "Ready":
        assert isinstance(final["result"]["sample"], str)
    else:
        assert final.get("result") is None
    assert lifecycle.at_poll(len(lifecycle.stages) + 5) == final


@pytest.mark.parametrize("final", sorted(CONTRACT.final_statuses))
def test_lifecycles_reach_every_final_status(final: str) -> None:
    def ends_so(lifecycle: Lifecycle) -> bool:
        return bool(lifecycle.final["status"] == final)

    assert ends_so(find(from_lifecycle(), ends_so, settings=FIND))


def test_lifecycles_have_several_pendings() -> None:
    long = find(from_lifecycle(max_pending=4), lambda lc: len(lc.stages) == 5, settings=FIND)
    assert [stage["status"] for stage in long.stages[:4]] == ["Pending"] * 4


def test_a_ready_result_may_carry_only_its_sample() -> None:
    found = find(
        from_lifecycle(),
        lambda lc: lc.final["status"] == "Ready" and set(lc.final["result"]) == {"sample"},
        settings=FIND,
    )
    assert set(found.final["result"]) == {"sample"}


@pytest.mark.property
def test_the_mock_accepts_every_valid_request(make_client: ClientFactory) -> None:
    # Credits and the active-task limit are business rules, not the schema: lifted here.
    client = make_client(api_keys=frozenset({KEY}), credits=1e15, max_active_tasks=10**9)

    @given(from_request(SUBMIT, api_key=KEY))
    def check(request: Request) -> None:
        response = send(client, request)
        assert response.status_code == 200, (request.describe(), response.text)

    check()


@pytest.mark.property
def test_the_mock_refuses_every_invalid_request_naming_the_broken_field(
    make_client: ClientFactory,
) -> None:
    client = make_client(api_keys=frozenset({KEY}))

    @given(st.one_of(from_invalid_request(SUBMIT, api_key=KEY), from_invalid_request(POLL)))
    def check(invalid: InvalidRequest) -> None:
        response = send(client, invalid.request)
        assert response.status_code == 422, (str(invalid.broken), response.text)
        locs = [tuple(error["loc"]) for error in response.json()["detail"]]
        assert any(loc[: len(invalid.broken.loc)] == invalid.broken.loc for loc in locs), locs

    check()


def find_breaking(operation_id: str, loc: tuple[str, ...], keyword: str, **options: Any) -> None:
    """Find a request ``from_invalid_request`` draws breaking ``keyword`` at ``loc``.

    ``find`` raises ``NoSuchExample`` when it draws none.
    """
    find(
        from_invalid_request(operation_id, **options),
        lambda invalid: (invalid.broken.loc, invalid.broken.keyword) == (loc, keyword),
        settings=FIND,
    )


def test_invalid_requests_are_labelled_with_the_one_constraint_they_break() -> None:
    for loc, keyword in [
        (("body",), "required"),
        (("body", "width"), "multipleOf"),
        (("body", "width"), "minimum"),
        (("body", "width"), "maximum"),
        (("body", "safety_tolerance"), "type"),
        (("body", "output_format"), "enum"),
        (("body", "webhook_url"), "maxLength"),
        (("body", "webhook_url"), "format"),
    ]:
        find_breaking(SUBMIT, loc, keyword)
    polls = find(from_invalid_request(POLL), lambda invalid: True, settings=FIND)
    assert polls.broken == Broken(("query", "id"), "required")
    found = find(
        from_invalid_request(SUBMIT),
        lambda invalid: invalid.broken.keyword == "multipleOf",
        settings=FIND,
    )
    assert found.request.body["width" if found.broken.loc[1] == "width" else "height"] % 32
    assert (
        str(Broken(("body", "width"), "multipleOf", 1000)) == "body.width breaks multipleOf (1000)"
    )
    assert str(Broken(("query", "id"), "required")) == "query.id left out (required)"


def test_an_operation_with_nothing_to_break_draws_nothing() -> None:
    assert from_invalid_request(CREDITS).is_empty


def test_the_api_key_goes_in_the_specs_header() -> None:
    request = find(from_request(SUBMIT, api_key="k1"), lambda r: True, settings=FIND)
    assert request.headers["x-key"] == "k1"
    assert (request.method, request.path) == ("POST", "/v1/flux-pro-1.1")


def test_strategies_serve_another_spec_without_code() -> None:
    full = load_contract(FULL_SPEC)
    for operation in full.operations_of(OperationKind.GENERATION):
        body = find(
            from_response(operation.operation_id, contract=full), lambda b: True, settings=FIND
        )
        assert full.errors(body, operation.responses[200] or {}) == ()
    kontext = "generate_flux_kontext_pro_v1_flux_kontext_pro_post"
    assert not from_invalid_request(kontext, contract=full).is_empty


def send(client: TestClient, request: Request) -> Any:
    return client.request(
        request.method,
        request.path,
        params=dict(request.query),
        headers=dict(request.headers),
        json=request.body,
    )
