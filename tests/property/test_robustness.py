"""No request, however malformed, makes the mock answer 500 or lose what it stored."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from mockserver.http.app import create_app
from mockserver.settings import MockSettings, Timing
from mockserver.spec.reading import load_spec

from support import AUTH, FULL_SPEC, in_app

SPEC = load_spec(FULL_SPEC)
APP = create_app(MockSettings(spec=FULL_SPEC, timing=Timing.POLLS, seed=0, strict=True))
CLIENT = TestClient(APP, raise_server_exceptions=True).__enter__()  # one loop for the module
KNOWN = CLIENT.post("/v1/flux-pro-1.1", json={"prompt": "keep me"}, headers=AUTH).json()

FIELD_NAMES = sorted(
    {name for schema in SPEC.components.values() for name in schema.get("properties", {})}
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.one_of(
    st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, max_size=6).map(
        lambda value: json.dumps(value).encode()
    ),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=64),
    st.sampled_from([b"", b"{", b"NaN", b'{"width": Infinity}', b"[" * 5000, b'{"a":1,"a":2}']),
)
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20)
paths = st.sampled_from(
    [op.path for op in SPEC.operations]
    + ["/openapi.json", "/", "/v1", "/results/aa/bb/cc/sample.jpeg", "/v1/flux-pro-1.1/"]
) | st.text(
    st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="?#"), max_size=20
).map(lambda p: "/" + p)


@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]),
    path=paths,
    query=st.dictionaries(st.sampled_from(["id", "finetune_id", "se", "sig", "x"]), header_text),
    key=st.none() | header_text,
    content_type=st.none()
    | st.sampled_from(["application/json", "text/plain", "application/x+json; charset=latin-1",
                       "multipart/form-data", "application/json; charset=utf-16", "garbage"]),
    body=bodies,
)  # fmt: skip
def test_no_request_gets_a_500(
    method: str,
    path: str,
    query: dict[str, str],
    key: str | None,
    content_type: str | None,
    body: bytes,
) -> None:
    headers: dict[str, Any] = {}
    if key is not None:
        headers["x-key"] = key
    if content_type is not None:
        headers["content-type"] = content_type
    seen = len(in_app(CLIENT, APP.control.calls()))
    response = CLIENT.request(
        method, path, params=query, headers=headers, content=body, follow_redirects=False
    )
    assert response.status_code < 500, response.text
    if response.headers.get("content-type") == "application/json" and method != "HEAD":
        json.loads(response.content)
    for call in in_app(CLIENT, APP.control.calls())[seen:]:
        assert not call.response_problems, call
    still_there = CLIENT.get("/v1/get_result", params={"id": KNOWN["id"]})
    assert still_there.status_code == 200
