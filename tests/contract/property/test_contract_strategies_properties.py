"""The kit's strategies: what they draw is valid for its schema, and the mock agrees."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import HttpUrl
from starlette.testclient import TestClient

from contracts import (
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

from support import ClientFactory, accepted

CONTRACT = load_contract()
SUBMIT = CONTRACT.operations_of(OperationKind.GENERATION)[0].operation_id
POLL = CONTRACT.result_operation.operation_id
DOCUMENTED = [
    (op.operation_id, status)
    for op in CONTRACT.operations
    for status, schema in op.responses.items()
    if schema is not None
]


KEY = "strategy-key"


def schema_of(operation_id: str, status: int) -> Any:
    schema = CONTRACT.response_schema(CONTRACT.operation(operation_id), status)
    assert schema is not None
    return schema


@pytest.mark.parametrize(("operation_id", "status"), DOCUMENTED)
def test_every_drawn_response_is_valid_for_its_schema(operation_id: str, status: int) -> None:
    @given(from_response(operation_id, status))
    def check(body: Any) -> None:
        assert CONTRACT.errors(body, schema_of(operation_id, status)) == ()

    check()


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


def test_the_mock_accepts_every_valid_request(make_client: ClientFactory) -> None:
    # Credits and the active-task limit are business rules, not the schema: lifted here.
    client = make_client(api_keys=frozenset({KEY}), credits=1e15, max_active_tasks=10**9)

    @given(from_request(SUBMIT, api_key=KEY))
    def check(request: Request) -> None:
        response = send(client, request)
        answer = response.json()
        webhook_url = request.body.get("webhook_url")
        # Written back as BFL's server writes it, through pydantic's HttpUrl (the spec's
        # type): a bare host gains its slash.
        echoed = None if webhook_url is None else str(HttpUrl(webhook_url))
        expected = accepted(answer.get("id"), echoed)
        assert (response.status_code, answer) == (200, expected), request.describe()

    check()


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


def send(client: TestClient, request: Request) -> Any:
    return client.request(
        request.method,
        request.path,
        params=dict(request.query),
        headers=dict(request.headers),
        json=request.body,
    )
