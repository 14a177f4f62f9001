"""The full spec BFL published (April 2026), served with no code for any endpoint."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from PIL import Image
from starlette.testclient import TestClient

from mockserver.spec.openapi import OperationKind
from mockserver.spec.reading import load_spec

from support import AUTH, FULL_SPEC, ClientFactory, png_base64

SPEC = load_spec(FULL_SPEC)
GENERATION = [op for op in SPEC.operations if op.kind is OperationKind.GENERATION]
SAMPLE_VALUES = {"string": "x", "integer": 1, "number": 1.0, "boolean": True}
PNG = png_base64(320, 240)
IMAGE_FIELDS = frozenset({"image", "input_image"})


def minimal_body(schema: Any) -> dict[str, Any]:
    """The required fields, each a plain value; image fields a real (small) PNG."""
    schema = SPEC.resolve(schema)
    return {
        name: PNG
        if name in IMAGE_FIELDS
        else SAMPLE_VALUES[SPEC.resolve(schema["properties"][name]).get("type", "string")]
        for name in schema.get("required", [])
    }


@pytest.fixture
def full(make_client: ClientFactory) -> TestClient:
    return make_client(spec=FULL_SPEC, polls_until_ready=1)


@pytest.mark.parametrize("operation", GENERATION, ids=lambda op: op.path)
def test_every_generation_endpoint_runs_the_whole_lifecycle(
    full: TestClient, operation: Any
) -> None:
    body = minimal_body(operation.body_schema)
    submitted = full.post(operation.path, json=body, headers=AUTH)
    assert submitted.status_code == 200, submitted.text
    polls = [full.get(submitted.json()["polling_url"]).json() for _ in range(2)]
    assert [p["status"] for p in polls] == ["Pending", "Ready"]
    download = full.get(polls[1]["result"]["sample"])
    assert download.status_code == 200
    image = Image.open(io.BytesIO(download.content))
    expected_format = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}[
        SPEC.resolve(operation.body_schema)["properties"]["output_format"].get("default", "jpeg")
    ]
    assert image.format == expected_format


@pytest.mark.parametrize(
    ("path", "body", "loc", "kind"),
    [
        ("/v1/flux-kontext-pro", {}, ["body", "prompt"], "missing"),
        ("/v1/flux-2-pro", {"prompt": "x", "width": 32}, ["body", "width"], "greater_than_equal"),
        ("/v1/flux-2-pro", {"prompt": "x", "safety_tolerance": 6}, ["body", "safety_tolerance"],
         "less_than_equal"),
        ("/v1/flux-pro-1.1", {"output_format": "gif"}, ["body", "output_format"], "enum"),
        ("/v1/flux-pro-1.1-ultra", {"image_prompt_strength": 2}, ["body", "image_prompt_strength"],
         "less_than_equal"),
        ("/v1/flux-pro-1.0-fill", {}, ["body", "image"], "missing"),
        ("/v1/flux-pro-1.1-ultra-finetuned", {"finetune_id": "f", "finetune_strength": -1},
         ["body", "finetune_strength"], "greater_than_equal"),
    ],
)  # fmt: skip
def test_each_endpoint_validates_with_its_own_schema(
    full: TestClient, path: str, body: dict[str, Any], loc: list[str], kind: str
) -> None:
    response = full.post(path, json=body, headers=AUTH)
    assert response.status_code == 422
    assert [(e["loc"], e["type"]) for e in response.json()["detail"]] == [(loc, kind)]


def test_float_constraints_in_the_published_spec_give_pydantics_context(full: TestClient) -> None:
    response = full.post("/v1/flux-pro-1.1", json={"width": 2048}, headers=AUTH)
    assert response.json()["detail"][0]["ctx"] == {"le": 1440}
    webp = full.post("/v1/flux-pro-1.1", json={"output_format": "webp"}, headers=AUTH)
    assert webp.status_code == 200


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # About 4 MiP at the default 16:9, sides multiples of 64 (endpoints.md 1.2).
        ("/v1/flux-pro-1.1-ultra", (2752, 1536)),
        ("/v1/flux-2-pro", (1024, 1024)),
    ],
)
def test_size_comes_from_aspect_ratio_when_there_is_no_width(
    full: TestClient, path: str, expected: tuple[int, int]
) -> None:
    submitted = full.post(path, json={"prompt": "x"}, headers=AUTH).json()
    full.get(submitted["polling_url"])
    sample = full.get(submitted["polling_url"]).json()["result"]["sample"]
    assert Image.open(io.BytesIO(full.get(sample).content)).size == expected


def test_other_operations_answer_their_smallest_valid_body(full: TestClient) -> None:
    assert full.get("/v1/my_finetunes", headers=AUTH).content == b'{"finetunes":[]}'
    details = full.get("/v1/finetune_details", params={"finetune_id": "f"}, headers=AUTH)
    assert details.content == b'{"finetune_details":{}}'
    deleted = full.post("/v1/delete_finetune", json={"finetune_id": "f"}, headers=AUTH)
    assert deleted.json() == {
        "status": "",
        "message": "",
        "deleted_finetune_id": "",
        "timestamp": "",
    }


def test_other_operations_still_validate_and_authenticate(full: TestClient) -> None:
    missing = full.get("/v1/finetune_details", headers=AUTH)
    assert missing.json()["detail"] == [
        {"type": "missing", "loc": ["query", "finetune_id"], "msg": "Field required", "input": None}
    ]
    assert full.get("/v1/my_finetunes").status_code == 401
    bad = full.post("/v1/delete_finetune", json={"finetune_id": 3}, headers=AUTH)
    assert bad.json()["detail"][0]["type"] == "string_type"


def test_served_spec_is_the_file_given(full: TestClient) -> None:
    assert json.loads(full.get("/openapi.json").content) == json.loads(FULL_SPEC.read_text())
