"""The kit's stance on what the spec leaves out: out-of-spec statuses and lax conversions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contracts import load_contract
from contracts.tolerances import (
    OUT_OF_SPEC_STATUSES,
    failed_task_poll,
    read_laxly,
    tolerated_status,
    validator_refusal,
)
from mockserver.spec.openapi import OperationKind

CONTRACT = load_contract()
SUBMIT = CONTRACT.operations_of(OperationKind.GENERATION)[0]
POLL = CONTRACT.result_operation
CREDITS = CONTRACT.operations_of(OperationKind.CREDITS)[0]
DETAIL = json.dumps({"detail": "Not authenticated"}).encode()
TASK_NOT_FOUND = json.dumps(
    {"id": "x", "status": "Task not found", "result": None, "progress": None}
).encode()


@pytest.mark.parametrize(
    ("operation", "status", "body", "tolerated"),
    [
        (SUBMIT, 401, DETAIL, True),
        (CREDITS, 403, DETAIL, True),
        (POLL, 401, DETAIL, False),  # get_result declares no security
        (POLL, 404, TASK_NOT_FOUND, True),
        (POLL, 404, json.dumps({"detail": "Not Found"}).encode(), False),
        (SUBMIT, 404, TASK_NOT_FOUND, False),
        (SUBMIT, 402, json.dumps({"detail": "Insufficient credits"}).encode(), True),
        (SUBMIT, 429, json.dumps({"detail": "Too many active tasks"}).encode(), True),
        (CREDITS, 429, DETAIL, False),
        (SUBMIT, 400, json.dumps({"detail": "There was an error parsing the body"}).encode(), True),
        (SUBMIT, 401, b"Not authenticated", False),  # the shape matters too
        (SUBMIT, 401, json.dumps({"detail": ["x"]}).encode(), False),
        (SUBMIT, 500, DETAIL, False),
    ],
)
def test_out_of_spec_statuses_are_tolerated_only_where_and_as_the_api_sends_them(
    operation: Any, status: int, body: bytes, tolerated: bool
) -> None:
    assert tolerated_status(CONTRACT, operation, status, body) is tolerated


def test_the_stance_covers_exactly_the_documented_statuses() -> None:
    # Each with its real body: a task body for an unknown id, a detail text otherwise.
    assert [(rule.status, rule.task_body) for rule in OUT_OF_SPEC_STATUSES] == [
        (400, False),
        (401, False),
        (402, False),
        (403, False),
        (404, True),
        (429, False),
    ]


INTEGER = {"type": "integer"}
NUMBER = {"type": "number", "minimum": 0}
BOOLEAN = {"type": "boolean"}


@pytest.mark.parametrize(
    ("value", "schema", "read_as"),
    [
        ("5", INTEGER, 5),
        (" 7 ", INTEGER, 7),
        (5.0, INTEGER, 5),
        (True, INTEGER, 1),
        (5.5, INTEGER, 5.5),  # not converted: int_from_float refuses a fraction
        ("five", INTEGER, "five"),
        ("1.5", NUMBER, 1.5),
        (False, NUMBER, 0.0),
        ("inf", NUMBER, "inf"),  # JSON has no infinity to compare with
        (0, BOOLEAN, False),
        (1.0, BOOLEAN, True),
        ("yes", BOOLEAN, True),
        ("Off", BOOLEAN, False),
        (2, BOOLEAN, 2),
        ("maybe", BOOLEAN, "maybe"),
        ({"width": "1024", "seed": "x"}, {"type": "object", "properties": {"width": INTEGER}},
         {"width": 1024, "seed": "x"}),
        (["1", "2"], {"type": "array", "items": INTEGER}, [1, 2]),
        ("3", {"anyOf": [INTEGER, {"type": "null"}]}, 3),
        # A tuple (flux-3-video's [seconds, image] keyframes) is read item by position.
        ([False, "x", "2"], {"type": "array", "prefixItems": [NUMBER, {"type": "string"}],
                             "items": INTEGER}, [0.0, "x", 2]),
    ],
)  # fmt: skip
def test_values_are_read_as_pydantic_lax_mode_reads_them(
    value: Any, schema: Any, read_as: Any
) -> None:
    converted = read_laxly(value, schema, CONTRACT)
    assert converted == read_as and type(converted) is type(read_as)


def test_lax_reading_follows_references_to_the_spec() -> None:
    body = {"width": "1024", "prompt_upsampling": "true", "output_format": "png"}
    converted = read_laxly(body, SUBMIT.body_schema or {}, CONTRACT)
    assert converted == {"width": 1024, "prompt_upsampling": True, "output_format": "png"}


VALIDATOR_ERROR = {"type": "value_error", "loc": ["body"], "msg": "Value error, x", "input": {}}
MISSING = {"type": "missing", "loc": ["body", "prompt"], "msg": "Field required", "input": {}}


@pytest.mark.parametrize(
    ("status", "body", "forgiven"),
    [
        (422, {"detail": [VALIDATOR_ERROR]}, True),
        (422, {"detail": [VALIDATOR_ERROR, VALIDATOR_ERROR]}, True),
        (422, {"detail": [VALIDATOR_ERROR, MISSING]}, False),  # a schema error as well
        (422, {"detail": []}, False),
        (422, {"detail": "Unprocessable"}, False),
        (400, {"detail": [VALIDATOR_ERROR]}, False),
        (422, "not an object", False),
    ],
)
def test_only_a_business_rules_refusal_of_valid_data_is_forgiven(
    status: int, body: Any, forgiven: bool
) -> None:
    assert validator_refusal(status, json.dumps(body).encode()) is forgiven


FAILED_TASK = {
    "id": "t",
    "status": "Error",
    "result": None,
    "progress": None,
    "details": {"error": "Invalid or corrupted image input"},
    "preview": None,
}


@pytest.mark.parametrize(
    ("operation", "status", "body", "forgiven"),
    [
        (POLL, 422, FAILED_TASK, True),
        (POLL, 422, {**FAILED_TASK, "status": "Ready"}, False),  # only a failed task
        (POLL, 422, {"detail": [VALIDATOR_ERROR]}, False),  # a refused poll is still checked
        (POLL, 500, FAILED_TASK, False),
        (SUBMIT, 422, FAILED_TASK, False),
    ],
)
def test_a_failed_tasks_poll_may_answer_422_with_its_task_body(
    operation: Any, status: int, body: Any, forgiven: bool
) -> None:
    assert failed_task_poll(CONTRACT, operation, status, json.dumps(body).encode()) is forgiven
