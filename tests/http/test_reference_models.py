"""The models generated from BFL's published specs are BFL's own, as FastAPI serves them.

``reference_models`` holds what datamodel-code-generator wrote from each spec, with the
hand edits its headers list. FastAPI 0.128.0 serving them (``reference_app``) writes
back the published request-body schemas exactly: the spec is pydantic's output of
BFL's models, so a model that writes the same schema is, for validation, the same
model. (Constraints are compared as numbers: FastAPI writes ``maximum: 6`` where the
spec has ``6.0``, and Python compares them equal.)

Then the October spec's tagged video body, as FastAPI answers it: the bytes below are
the oracle's, for the differential test to hold the mock to.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from starlette.testclient import TestClient

from reference_models import APRIL_2026, COMPONENT_PREFIX, OCTOBER_2026, PUBLISHED, Published
from support import fastapi_oracle_missing

if (missing := fastapi_oracle_missing()) is not None:
    pytest.skip(missing, allow_module_level=True)

# Only with the pinned FastAPI installed: the reference app is written with it.
from reference_app import create_published_reference_app

VIDEO = "/v1/flux-3-video"
KEYED = {"x-key": "any-key"}


def referenced(schema: Any) -> Iterator[str]:
    """Names of the components ``schema`` points to, directly."""
    if isinstance(schema, Mapping):
        if "$ref" in schema:
            yield str(schema["$ref"]).removeprefix(COMPONENT_PREFIX)
        for value in schema.values():
            yield from referenced(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from referenced(value)


def reached(roots: list[Any], components: Mapping[str, Any]) -> set[str]:
    """Names of every component the ``roots`` lead to, following $refs."""
    found: set[str] = set()
    pending = [name for root in roots for name in referenced(root)]
    while pending:
        name = pending.pop()
        if name not in found:
            found.add(name)
            pending.extend(referenced(components[name]))
    return found


@pytest.mark.parametrize("published", PUBLISHED, ids=lambda published: published.name)
def test_fastapi_writes_the_published_request_bodies_back(published: Published) -> None:
    generated = create_published_reference_app(published).openapi()
    operations = [
        (generated["paths"][g.path]["post"], published.document["paths"][g.path]["post"])
        for g in published.generations
    ]
    for served, spec in operations:
        assert served["operationId"] == spec["operationId"]
        assert served["requestBody"] == spec["requestBody"]
    bodies = [spec["requestBody"] for _, spec in operations]
    names = reached(bodies, published.document["components"]["schemas"])
    served_schemas = generated["components"]["schemas"]
    published_schemas = published.document["components"]["schemas"]
    assert {name: served_schemas[name] for name in names} == {
        name: published_schemas[name] for name in names
    }
    # What the bodies are made of: the generation inputs, and the one named enum.
    assert "OutputFormat" in names and len(names) > len(published.generations) // 2


@pytest.mark.parametrize(
    ("published", "operations", "models"),
    [(APRIL_2026, 16, 11), (OCTOBER_2026, 25, 19)],
    ids=lambda value: value.name if isinstance(value, Published) else None,
)
def test_every_generation_operation_of_a_spec_is_served(
    published: Published, operations: int, models: int
) -> None:
    # Every POST answering AsyncResponse | AsyncWebhookResponse; delete_finetune is not one.
    assert len(published.generations) == operations
    assert len({generation.body for generation in published.generations}) == models
    served = create_published_reference_app(published).openapi()["paths"]
    for generation in published.generations:
        assert "post" in served[generation.path]
    assert "/v1/delete_finetune" not in served


# -- the tagged video body, as FastAPI 0.128.0 answers it ----------------------------------------


@pytest.fixture(scope="module")
def october() -> Iterator[TestClient]:
    with TestClient(create_published_reference_app(OCTOBER_2026)) as client:
        yield client


def union_tag_invalid(tag: str, given: str) -> bytes:
    expected = "'t2v', 'i2v', 'v2v', 'draft_enhance'"
    return (
        f'{{"detail":[{{"type":"union_tag_invalid","loc":["body"],"msg":"Input tag \'{tag}\' '
        f"found using 'mode' does not match any of the expected tags: {expected}\","
        f'"input":{given},"ctx":{{"discriminator":"\'mode\'","tag":"{tag}",'
        f'"expected_tags":"{expected}"}}}}]}}'
    ).encode()


VIDEO_REFUSALS = [
    pytest.param(
        {"prompt": "a fox"},
        b'{"detail":[{"type":"union_tag_not_found","loc":["body"],"msg":"Unable to extract tag '
        b'using discriminator \'mode\'","input":{"prompt":"a fox"},"ctx":{"discriminator":'
        b"\"'mode'\"}}]}",
        id="no-mode",
    ),
    pytest.param(
        {"mode": "text-to-video", "prompt": "a fox"},
        union_tag_invalid("text-to-video", '{"mode":"text-to-video","prompt":"a fox"}'),
        id="spelled-out-mode",
    ),
    pytest.param(
        {"mode": 1, "prompt": "a fox"},
        union_tag_invalid("1", '{"mode":1,"prompt":"a fox"}'),
        id="number-as-mode",
    ),
    pytest.param({"mode": None}, union_tag_invalid("None", '{"mode":null}'), id="null-mode"),
    pytest.param(
        {"mode": "t2v"},
        b'{"detail":[{"type":"missing","loc":["body","t2v","prompt"],"msg":"Field required",'
        b'"input":{"mode":"t2v"}}]}',
        id="missing-field-of-the-mode",
    ),
    pytest.param(
        {"mode": "t2v", "prompt": "x", "seed": 1},
        b'{"detail":[{"type":"extra_forbidden","loc":["body","t2v","seed"],'
        b'"msg":"Extra inputs are not permitted","input":1}]}',
        id="extra-key",
    ),
    pytest.param(
        {"mode": "t2v", "prompt": "x", "duration": 4},
        b'{"detail":[{"type":"greater_than_equal","loc":["body","t2v","duration","constrained-int"]'
        b',"msg":"Input should be greater than or equal to 5","input":4,"ctx":{"ge":5}},'
        b'{"type":"literal_error","loc":["body","t2v","duration","literal[\'auto\']"],'
        b'"msg":"Input should be \'auto\'","input":4,"ctx":{"expected":"\'auto\'"}}]}',
        id="duration-under-its-minimum",
    ),
    pytest.param(
        {"mode": "i2v", "prompt": "x", "keyframes": [[0, "a"], [3.5, "b", 1]]},
        b'{"detail":[{"type":"string_type","loc":["body","i2v","keyframes","str"],'
        b'"msg":"Input should be a valid string","input":[[0,"a"],[3.5,"b",1]]},'
        b'{"type":"float_type","loc":["body","i2v","keyframes","tuple[float, str]",0],'
        b'"msg":"Input should be a valid number","input":[0,"a"]},'
        b'{"type":"string_type","loc":["body","i2v","keyframes","tuple[float, str]",1],'
        b'"msg":"Input should be a valid string","input":[3.5,"b",1]},'
        b'{"type":"string_type","loc":["body","i2v","keyframes","list[str]",0],'
        b'"msg":"Input should be a valid string","input":[0,"a"]},'
        b'{"type":"string_type","loc":["body","i2v","keyframes","list[str]",1],'
        b'"msg":"Input should be a valid string","input":[3.5,"b",1]},'
        b'{"type":"too_long","loc":["body","i2v","keyframes","list[tuple[float, str]]",1],'
        b'"msg":"Tuple should have at most 2 items after validation, not 3","input":[3.5,"b",1],'
        b'"ctx":{"field_type":"Tuple","max_length":2,"actual_length":3}}]}',
        id="keyframe-pair-of-three",
    ),
    pytest.param(
        {"mode": "draft_enhance", "draft_cache": "b", "resolution": "8k"},
        b'{"detail":[{"type":"literal_error","loc":["body","draft_enhance","resolution"],'
        b"\"msg\":\"Input should be 'hd', 'fhd', 'qhd' or 'uhd'\",\"input\":\"8k\","
        b"\"ctx\":{\"expected\":\"'hd', 'fhd', 'qhd' or 'uhd'\"}}]}",
        id="resolution-not-listed",
    ),
    pytest.param(
        [],
        b'{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a '
        b'valid dictionary or object to extract fields from","input":[]}]}',
        id="not-an-object",
    ),
]


@pytest.mark.parametrize(("body", "answer"), VIDEO_REFUSALS)
def test_fastapi_refuses_video_bodies_by_their_mode(
    october: TestClient, body: Any, answer: bytes
) -> None:
    response = october.post(VIDEO, json=body, headers=KEYED)
    assert (response.status_code, response.content) == (422, answer)


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "t2v", "prompt": "a fox"},
        {"mode": "i2v", "prompt": "", "keyframes": "https://example.com/a.png"},
        {"mode": "i2v", "prompt": "", "keyframes": [0, "a"]},
        {"mode": "i2v", "prompt": "", "keyframes": [[0, "a"], [3.5, "b"]]},
        {"mode": "v2v", "prompt": "", "start_video": "v", "duration": 15},
        {"mode": "draft_enhance", "draft_cache": "b"},
    ],
)
def test_fastapi_accepts_each_mode_with_its_own_fields(october: TestClient, body: Any) -> None:
    response = october.post(VIDEO, json=body, headers=KEYED)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert list(answer) == ["id", "polling_url", "cost", "input_mp", "output_mp"]
    assert answer["polling_url"] == f"http://testserver/v1/get_result?id={answer['id']}"
    assert october.get(answer["polling_url"]).json()["status"] == "Pending"


def test_fastapi_answers_a_webhook_submit_with_the_webhook_branch(october: TestClient) -> None:
    body = {"input_video": "v", "webhook_url": "https://example.com/hook"}
    response = october.post("/v1/flux-tools/video-upscale-v1", json=body, headers=KEYED)
    answer = response.json()
    assert list(answer) == ["id", "status", "webhook_url", "cost", "input_mp", "output_mp"]
    assert (answer["status"], answer["webhook_url"]) == ("Pending", "https://example.com/hook")
    assert json.loads(october.get(f"/v1/get_result?id={answer['id']}").content)["status"] == (
        "Pending"
    )
