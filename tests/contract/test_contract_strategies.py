"""The kit's strategies reach what they promise: every branch, corner and broken constraint.

That everything they draw is valid, and that the mock agrees, is a property test
(contract/property/test_contract_strategies_properties.py).
"""

from __future__ import annotations

import math
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings

from contracts import (
    Broken,
    Lifecycle,
    from_invalid_request,
    from_lifecycle,
    from_request,
    from_response,
    load_contract,
)
from mockserver.spec.openapi import OperationKind

from support import FULL_SPEC

CONTRACT = load_contract()
SUBMIT = CONTRACT.operations_of(OperationKind.GENERATION)[0].operation_id
POLL = CONTRACT.result_operation.operation_id
CREDITS = CONTRACT.operations_of(OperationKind.CREDITS)[0].operation_id
# hypothesis.find searches for a feature; shrinking what it found would add nothing here.
FIND = settings(
    max_examples=2000,
    database=None,
    phases=(Phase.generate,),
    suppress_health_check=list(HealthCheck),
)


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
