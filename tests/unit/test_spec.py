from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mockserver.errors import SpecError
from mockserver.spec.openapi import OperationKind, TaskStatus
from mockserver.spec.reading import load_spec, parse_spec

from support import FULL_SPEC, ROOT, SPECS


def test_bundled_spec_is_the_root_openapi_json() -> None:
    assert load_spec().raw == (ROOT / "openapi.json").read_bytes()


def test_bundled_spec_has_the_seed_operation_exactly() -> None:
    seed = json.loads((SPECS / "seed-openapi.json").read_text())
    ours = json.loads(load_spec().raw)
    assert ours["paths"]["/v1/flux-pro-1.1"] == seed["paths"]["/v1/flux-pro-1.1"]
    for name, schema in seed["components"]["schemas"].items():
        assert ours["components"]["schemas"][name] == schema


def test_bundled_spec_takes_get_result_and_credits_from_the_published_spec() -> None:
    published = json.loads(FULL_SPEC.read_text())
    ours = json.loads(load_spec().raw)
    for path in ("/v1/get_result", "/v1/credits"):
        assert ours["paths"][path] == published["paths"][path]
    for name in ("ResultResponse", "StatusResponse", "CreditsResponse"):
        assert ours["components"]["schemas"][name] == published["components"]["schemas"][name]


def test_operations_are_classified_by_their_200_response() -> None:
    spec = load_spec()
    assert [(op.method, op.path, op.kind, op.api_key_header) for op in spec.operations] == [
        ("POST", "/v1/flux-pro-1.1", OperationKind.GENERATION, "x-key"),
        ("GET", "/v1/get_result", OperationKind.RESULT, None),
        ("GET", "/v1/credits", OperationKind.CREDITS, "x-key"),
    ]
    assert spec.statuses[TaskStatus.TASK_NOT_FOUND] == "Task not found"
    assert spec.result_keys == ("id", "status", "result", "progress", "details", "preview")


def test_full_published_spec_serves_every_generation_endpoint() -> None:
    spec = load_spec(FULL_SPEC)
    kinds = {op.path: op.kind for op in spec.operations}
    assert sum(kind is OperationKind.GENERATION for kind in kinds.values()) == 16
    assert kinds["/v1/my_finetunes"] is OperationKind.OTHER
    assert kinds["/v1/flux-2-pro"] is OperationKind.GENERATION


def document(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = json.loads((ROOT / "openapi.json").read_text())
    base.update(changes)
    return base


def test_status_spellings_come_from_the_spec() -> None:
    doc = document()
    doc["components"]["schemas"]["StatusResponse"]["enum"] = [
        "TASK_NOT_FOUND", "PENDING", "REQUEST_MODERATED", "CONTENT_MODERATED", "READY", "ERROR",
    ]  # fmt: skip
    spec = parse_spec(json.dumps(doc).encode())
    assert spec.statuses[TaskStatus.READY] == "READY"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.clear(), "no 'paths' object"),
        (lambda d: d["paths"].pop("/v1/get_result"), "no operation polling a task"),
        (
            lambda d: d["components"]["schemas"]["StatusResponse"]["enum"].remove("Ready"),
            "lacks READY",
        ),
        (
            lambda d: d["components"]["schemas"]["ResultResponse"]["required"].remove("status"),
            "answers 'id' and 'status'",
        ),
        (
            lambda d: d["paths"]["/v1/credits"]["get"].update(security=[{"Nope": []}]),
            "undeclared security scheme 'Nope'",
        ),
        (
            lambda d: d["paths"]["/v1/get_result"]["get"]["parameters"].append({"in": "query"}),
            "a parameter lacks 'name'",
        ),
        (
            lambda d: d["components"]["schemas"]["ResultResponse"]["properties"].update(
                status={"$ref": "#/components/schemas/Missing"}
            ),
            "#/components/schemas/Missing points to nothing",
        ),
        (
            lambda d: d["components"]["schemas"]["ResultResponse"]["properties"].update(
                status={"$ref": "other.json#/x"}
            ),
            "only local references",
        ),
    ],
)
def test_a_spec_the_mock_cannot_serve_is_refused_with_a_reason(mutate: Any, message: str) -> None:
    doc = document()
    mutate(doc)
    with pytest.raises(SpecError, match=message):
        parse_spec(json.dumps(doc).encode())


def test_unreadable_spec_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read spec"):
        load_spec(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(SpecError, match="not valid JSON"):
        load_spec(bad)
