"""Every constraint of FluxPro11Inputs broken, and every class of bad input, with exact bodies.

The expected bodies are what FastAPI 0.128.0 on pydantic v2 answers (the differential
test in property/test_fastapi_oracle_properties.py checks the same against a reference FastAPI app).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from support import AUTH, CREDITS, RESULT, SUBMIT, TASK_NOT_FOUND, ClientFactory, accepted

JSON = {"content-type": "application/json"}


def error(kind: str, loc: list[Any], msg: str, given: Any, ctx: Any = None) -> dict[str, Any]:
    entry = {"type": kind, "loc": loc, "msg": msg, "input": given}
    if ctx is not None:
        entry["ctx"] = ctx
    return entry


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"width": 1000},
            error("multiple_of", ["body", "width"], "Input should be a multiple of 32", 1000,
                  {"multiple_of": 32}),
        ),
        (
            {"width": 1472},
            error("less_than_equal", ["body", "width"],
                  "Input should be less than or equal to 1440", 1472, {"le": 1440}),
        ),
        (
            {"height": 224},
            error("greater_than_equal", ["body", "height"],
                  "Input should be greater than or equal to 256", 224, {"ge": 256}),
        ),
        (
            {"height": "tall"},
            error("int_parsing", ["body", "height"],
                  "Input should be a valid integer, unable to parse string as an integer", "tall"),
        ),
        (
            {"width": 1024.5},
            error("int_from_float", ["body", "width"],
                  "Input should be a valid integer, got a number with a fractional part", 1024.5),
        ),
        (
            {"prompt": 5},
            error("string_type", ["body", "prompt"], "Input should be a valid string", 5),
        ),
        (
            {"image_prompt": ["x"]},
            error("string_type", ["body", "image_prompt"], "Input should be a valid string", ["x"]),
        ),
        (
            {"prompt_upsampling": "maybe"},
            error("bool_parsing", ["body", "prompt_upsampling"],
                  "Input should be a valid boolean, unable to interpret input", "maybe"),
        ),
        (
            {"seed": 1.5},
            error("int_from_float", ["body", "seed"],
                  "Input should be a valid integer, got a number with a fractional part", 1.5),
        ),
        (
            {"safety_tolerance": 7},
            error("less_than_equal", ["body", "safety_tolerance"],
                  "Input should be less than or equal to 6", 7, {"le": 6}),
        ),
        (
            {"safety_tolerance": -1},
            error("greater_than_equal", ["body", "safety_tolerance"],
                  "Input should be greater than or equal to 0", -1, {"ge": 0}),
        ),
        (
            {"output_format": "webp"},
            error("enum", ["body", "output_format"], "Input should be 'jpeg' or 'png'", "webp",
                  {"expected": "'jpeg' or 'png'"}),
        ),
        (
            {"webhook_url": "ftp://example.com/hook"},
            error("url_scheme", ["body", "webhook_url"], "URL scheme should be 'http' or 'https'",
                  "ftp://example.com/hook", {"expected_schemes": "'http' or 'https'"}),
        ),
        (
            {"webhook_url": ""},
            error("url_parsing", ["body", "webhook_url"],
                  "Input should be a valid URL, input is empty", "", {"error": "input is empty"}),
        ),
        (
            {"webhook_url": "https://e.com/" + "a" * 2070},
            error("url_too_long", ["body", "webhook_url"],
                  "URL should have at most 2083 characters", "https://e.com/" + "a" * 2070,
                  {"max_length": 2083}),
        ),
        (
            {"webhook_secret": {"k": 1}},
            error("string_type", ["body", "webhook_secret"], "Input should be a valid string",
                  {"k": 1}),
        ),
    ],
)  # fmt: skip
def test_each_broken_constraint_gives_fastapis_422(
    client: TestClient, body: dict[str, Any], expected: dict[str, Any]
) -> None:
    response = client.post(SUBMIT, json=body, headers=AUTH)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": [expected]}
    assert (
        response.content
        == json.dumps({"detail": [expected]}, separators=(",", ":"), ensure_ascii=False).encode()
    )


def test_several_errors_come_in_field_order(client: TestClient) -> None:
    response = client.post(
        SUBMIT,
        json={"safety_tolerance": 9, "width": 100, "prompt": None, "height": 2048, "seed": "x"},
        headers=AUTH,
    )
    assert [(e["loc"][1], e["type"]) for e in response.json()["detail"]] == [
        ("width", "multiple_of"),
        ("height", "less_than_equal"),
        ("seed", "int_parsing"),
        ("safety_tolerance", "less_than_equal"),
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"width": "1024", "height": 768.0, "seed": "42"},
        {"prompt_upsampling": "yes", "safety_tolerance": "3"},
        {"prompt_upsampling": 1, "output_format": "png"},
        {"prompt": None, "image_prompt": None, "seed": None, "output_format": None},
        {"unknown_field": {"deep": [1, 2]}, "steps": 50, "guidance": 2.5},
        {"webhook_url": None, "webhook_secret": None},
        {},
    ],
)
def test_lax_coercions_and_unknown_fields_are_accepted(
    client: TestClient, body: dict[str, Any]
) -> None:
    response = client.post(SUBMIT, json=body, headers=AUTH)
    assert (response.status_code, response.json()) == (200, accepted(response.json().get("id")))


@pytest.mark.parametrize(
    ("raw", "headers", "status", "expected"),
    [
        (b'{"prompt": "a', JSON, 422, {"detail": [error(
            "json_invalid", ["body", 11], "JSON decode error", {},
            {"error": "Unterminated string starting at"})]}),
        (b"{'prompt': 1}", {}, 422, {"detail": [error(
            "json_invalid", ["body", 1], "JSON decode error", {},
            {"error": "Expecting property name enclosed in double quotes"})]}),
        (b"", JSON, 422, {"detail": [error("missing", ["body"], "Field required", None)]}),
        (b"null", JSON, 422, {"detail": [error("missing", ["body"], "Field required", None)]}),
        (b"[1, 2]", JSON, 422, {"detail": [error(
            "model_attributes_type", ["body"],
            "Input should be a valid dictionary or object to extract fields from", [1, 2])]}),
        (b'"a string"', JSON, 422, {"detail": [error(
            "model_attributes_type", ["body"],
            "Input should be a valid dictionary or object to extract fields from", "a string")]}),
        (b'{"prompt":"x"}', {"content-type": "text/plain"}, 422, {"detail": [error(
            "model_attributes_type", ["body"],
            "Input should be a valid dictionary or object to extract fields from",
            '{"prompt":"x"}')]}),
        (b"prompt=x", {"content-type": "application/x-www-form-urlencoded"}, 422, {"detail": [
            error("model_attributes_type", ["body"],
                  "Input should be a valid dictionary or object to extract fields from",
                  "prompt=x")]}),
        (b'{"width": 1000}', {"content-type": "application/vnd.api+json; charset=utf-8"}, 422,
         {"detail": [error("multiple_of", ["body", "width"], "Input should be a multiple of 32",
                           1000, {"multiple_of": 32})]}),
        (b'\xff{"a": 1}', JSON, 400, {"detail": "There was an error parsing the body"}),
        (b"[" * 100_000, JSON, 400, {"detail": "There was an error parsing the body"}),
        (b'{"seed": 1' + b"0" * 5000 + b"}", JSON, 400,
         {"detail": "There was an error parsing the body"}),
    ],
)  # fmt: skip
def test_each_bad_body_class_answers_as_fastapi(
    client: TestClient, raw: bytes, headers: dict[str, str], status: int, expected: Any
) -> None:
    response = client.post(SUBMIT, content=raw, headers=AUTH | headers)
    assert (response.status_code, response.json()) == (status, expected)


def test_no_content_type_is_read_as_json(client: TestClient) -> None:
    response = client.post(SUBMIT, content=b'{"width": 64}', headers=AUTH)
    assert response.json()["detail"][0]["type"] == "greater_than_equal"


def test_nan_input_is_reported_instead_of_crashing(client: TestClient) -> None:
    response = client.post(SUBMIT, content=b'{"width": NaN, "height": -Infinity}', headers=AUTH)
    assert response.status_code == 422
    assert response.json()["detail"] == [
        error("finite_number", ["body", "width"], "Input should be a finite number", "NaN"),
        error("finite_number", ["body", "height"], "Input should be a finite number", "-Infinity"),
    ]


def test_framework_500s_mirror_fastapis_crashes(make_client: ClientFactory) -> None:
    client = make_client(framework_500s=True)
    nan = client.post(SUBMIT, content=b'{"width": NaN}', headers=AUTH)
    assert (nan.status_code, nan.text) == (500, "Internal Server Error")
    undecodable = client.post(
        SUBMIT, content=b"\xff\xfe", headers=AUTH | {"content-type": "text/plain"}
    )
    assert (undecodable.status_code, undecodable.text) == (500, "Internal Server Error")


def test_undecodable_plain_text_is_reported_with_replacement_characters(
    client: TestClient,
) -> None:
    response = client.post(
        SUBMIT, content=b"\xff\xfe", headers=AUTH | {"content-type": "text/plain"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["input"] == "\ufffd\ufffd"


def test_missing_key_is_401_with_challenge_before_the_body_is_validated(
    client: TestClient,
) -> None:
    response = client.post(SUBMIT, json={"width": 1000})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "APIKey"
    assert response.content == b'{"detail":"Not authenticated"}'
    empty = client.post(SUBMIT, json={}, headers={"x-key": ""})
    assert empty.status_code == 401


def test_malformed_json_is_reported_before_the_key_is_checked(client: TestClient) -> None:
    # FastAPI decodes the body before it resolves dependencies such as the API key.
    response = client.post(SUBMIT, content=b"{", headers=JSON)
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_key_not_accepted_is_403_when_keys_are_configured(make_client: ClientFactory) -> None:
    client = make_client(api_keys=frozenset({"good"}))
    refused = client.post(SUBMIT, json={"width": 1000}, headers={"x-key": "bad"})
    assert (refused.status_code, refused.content) == (
        403,
        b'{"detail":"Not authenticated - Invalid Authentication"}',
    )
    assert "www-authenticate" not in refused.headers
    assert client.post(SUBMIT, json={}, headers={"x-key": "good"}).status_code == 200
    credits = client.get(CREDITS, headers={"x-key": "bad"})
    assert credits.status_code == 403


def test_credits_without_key_is_401(client: TestClient) -> None:
    response = client.get(CREDITS)
    assert (response.status_code, response.json()) == (401, {"detail": "Not authenticated"})


def test_get_result_without_id(client: TestClient) -> None:
    response = client.get(RESULT)
    assert response.status_code == 422
    assert response.content == (
        b'{"detail":[{"type":"missing","loc":["query","id"],"msg":"Field required","input":null}]}'
    )


def test_get_result_takes_the_last_of_repeated_ids(client: TestClient) -> None:
    response = client.get(RESULT + "?id=first&id=second")
    assert response.json()["id"] == "second"


def test_get_result_ignores_a_body(client: TestClient) -> None:
    response = client.request("GET", RESULT, params={"id": "x"}, content=b"{not json")
    assert (response.status_code, response.json()) == (404, {"id": "x", **TASK_NOT_FOUND})
