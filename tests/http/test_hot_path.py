"""The serving path's shortcuts give exactly what the plain ways they replace give.

Each shortcut (see bench/README.md for why it exists) is checked against the slower
code it stands in for: Starlette's own dispatch, ``dataclasses.replace``,
``request.base_url``, Starlette's ``Response``. Those checked on whatever hypothesis
draws (task ids against ``uuid.UUID``, JSON against ``json.dumps``) are in
property/test_hot_path_properties.py.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from mockserver.http.app import parsed_query
from mockserver.http.routing import MockApp
from mockserver.http.runtime import polling_url, request_origin
from mockserver.render import azure, wire
from mockserver.render.sample_urls import DELIVERY_ROUTE, Access, SampleSigner

from support import AUTH, RESULT, SUBMIT, ClientFactory, in_app

# --- MockApp answers as Starlette does ---------------------------------------


class Boom(Exception):
    pass


async def ok(request: Request) -> Response:
    return PlainTextResponse(f"ok {request.method} {request.url.path}")


async def shadowing(request: Request) -> Response:
    return PlainTextResponse("param " + request.path_params["name"])


async def crash(request: Request) -> Response:
    raise Boom("endpoint failed")


async def refuse(request: Request) -> Response:
    raise HTTPException(418, "teapot")


async def teapot(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return PlainTextResponse(f"handled {error.detail}", error.status_code)


def both(**extra: Any) -> list[Starlette]:
    routes = [
        Route("/a", ok, methods=["GET"]),
        Route("/p/{name}", shadowing, methods=["GET"]),
        Route("/p/fixed", ok, methods=["GET"]),  # shadowed: Starlette picks /p/{name}
        Route("/crash", crash, methods=["POST"]),
        Route("/refuse", refuse, methods=["GET"]),
    ]
    handlers = {HTTPException: teapot}
    return [
        cls(routes=list(routes), exception_handlers=dict(handlers), **extra)
        for cls in (Starlette, MockApp)
    ]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/a"),  # direct
        ("HEAD", "/a"),  # not declared: 405 from Starlette
        ("POST", "/a"),
        ("GET", "/a/"),  # slash redirect
        ("GET", "/nowhere"),
        ("GET", "/p/fixed"),  # an earlier route with a parameter wins
        ("GET", "/p/other"),
        ("GET", "/refuse"),  # a registered handler answers
    ],
)
def test_mock_app_answers_like_starlette(method: str, path: str) -> None:
    answers = []
    for app in both():
        with TestClient(app, follow_redirects=False) as client:
            answer = client.request(method, path)
            answers.append((answer.status_code, answer.text, answer.headers.get("location")))
    assert answers[0] == answers[1]


def test_mock_app_answers_500_and_reraises_like_starlette() -> None:
    for app in both():
        with TestClient(app) as client, pytest.raises(Boom):
            client.post("/crash")
        with TestClient(app, raise_server_exceptions=False) as client:
            answer = client.post("/crash")
            assert (answer.status_code, answer.text) == (500, "Internal Server Error")


def test_mock_app_leaves_root_path_and_debug_to_starlette() -> None:
    for app in both():
        with TestClient(app, root_path="/base") as client:
            assert client.get("/base/a").text == "ok GET /base/a"
    debug = MockApp(routes=[Route("/crash", crash, methods=["POST"])], debug=True)
    with TestClient(debug, raise_server_exceptions=False) as client:
        assert "Boom" in client.post("/crash").text  # Starlette's debug page, not a bare 500


def test_the_mock_serves_its_operations_directly(client: TestClient) -> None:
    constant, parametrised = client.app.direct_routes()  # type: ignore[attr-defined]
    assert {("POST", SUBMIT), ("GET", RESULT), ("GET", "/openapi.json")} <= set(constant)
    # The delivery route is tried first; the dashboard's come after it.
    assert [route.path for route in parametrised] == [
        DELIVERY_ROUTE,
        "/_mock/calls/{key}",
        "/_mock/media/{task_id}",
    ]


def test_routes_after_one_starlette_must_serve_are_left_to_it() -> None:
    def sync(request: Request) -> Response:
        return PlainTextResponse("sync")

    app = MockApp(routes=[Route("/s", sync), Route("/a", ok), Route("/p/{name}", shadowing)])
    assert app.direct_routes() == ({}, [])
    with TestClient(app) as client:
        assert [client.get(path).text for path in ("/s", "/a", "/p/x")] == [
            "sync",
            "ok GET /a",
            "param x",
        ]


# --- Rendering ------------------------------------------------------------------


def test_encode_json_refuses_nan_as_json_dumps_does() -> None:
    with pytest.raises(ValueError, match="Out of range float"):
        wire.encode_json({"x": [float("nan")]})


@pytest.mark.parametrize(("status", "headers"), [(200, None), (422, None), (401, {"A": "b"})])
def test_json_body_response_has_starlettes_headers(
    status: int, headers: dict[str, str] | None
) -> None:
    body = b'{"detail":"x"}'
    ours = wire.json_body_response(body, status, headers)
    theirs = Response(body, status, headers, media_type=wire.JSON)
    assert (ours.status_code, ours.body, ours.raw_headers) == (
        theirs.status_code,
        theirs.body,
        theirs.raw_headers,
    )


@pytest.mark.parametrize("head", [False, True])
def test_image_response_has_the_headers_starlette_would_write(head: bool) -> None:
    rendered = azure.Delivered(b"\xff\xd8jpeg", "image/jpeg", "q83vEjRWeJA=")
    ours = azure.delivered(rendered, created_at=1766072348.0, head=head)
    headers = {
        **azure.DELIVERY_HEADERS,
        "Content-MD5": rendered.md5,
        "ETag": rendered.etag,
        "Last-Modified": "Thu, 18 Dec 2025 15:39:08 GMT",
        "x-ms-creation-time": "Thu, 18 Dec 2025 15:39:08 GMT",
    }
    theirs = Response(rendered.data, 200, headers, media_type="image/jpeg")
    assert ours.raw_headers == theirs.raw_headers  # content-length of the image, even on HEAD
    assert ours.body == (b"" if head else rendered.data)
    ours.headers["x-added"] = "1"  # a later layer may add headers: the cached list stays as it was
    assert azure.delivered(rendered, created_at=1766072348.0).raw_headers == theirs.raw_headers


def test_a_polled_task_body_is_the_same_whether_encoded_or_remembered(
    make_client: ClientFactory,
) -> None:
    def polls(client: TestClient, count: int) -> list[bytes]:
        submitted = client.post(SUBMIT, json={"prompt": "a fox"}, headers=AUTH).json()
        return [client.get(submitted["polling_url"]).content for _ in range(count)]

    # Two mocks alike (seed, clock): the second encodes the Ready body the first remembers.
    bodies = polls(make_client(polls_until_ready=5), 7)
    fresh = polls(make_client(polls_until_ready=5), 6)
    assert bodies[5] == bodies[6] == fresh[5]
    assert json.loads(fresh[5])["status"] == "Ready"
    assert [json.loads(body)["progress"] for body in bodies[:5]] == [None, 0.3, 0.7, 1.0, None]


def test_journal_headers_are_the_requests_and_shared_between_entries(
    client: TestClient,
) -> None:
    sent = {b"x-key": b"k", b"X-Trace": "é1".encode()}
    for _ in range(2):
        client.get(RESULT, params={"id": "nope"}, headers=sent)
    first, second = in_app(client, client.app.control.calls())  # type: ignore[attr-defined]
    assert ("x-key", "k") in first.headers and ("x-trace", "Ã©1") in first.headers  # latin-1
    assert first.headers == second.headers
    assert all(a is b for a, b in zip(first.headers, second.headers, strict=True))


# --- Request parsing ------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", [b"id=abc", b"id=a%20b&id=c", b"a&&b=&c=d+e", b"x=%FF", b"", b"id=\xe9"]
)
def test_query_params_memo_parses_as_starlette(raw: bytes) -> None:
    assert parsed_query(raw) == Request({"type": "http", "query_string": raw}).query_params
    assert isinstance(parsed_query(raw), QueryParams)


@pytest.mark.parametrize(
    "scope",
    [
        {"headers": [(b"host", b"example.org:8080")]},
        {"headers": [(b"x-other", b"1"), (b"host", b"a"), (b"host", b"b")]},
        {"headers": [], "server": ("10.0.0.1", 80)},
        {"headers": [], "server": ["10.0.0.1", 8000]},
        {"headers": [], "server": None},
        {"headers": [(b"host", b"h")], "scheme": "https", "root_path": "/mock"},
        {"headers": [(b"host", b"h")], "root_path": "/mock", "app_root_path": "/app"},
    ],
)
def test_origin_is_the_requests_base_url(scope: dict[str, Any]) -> None:
    request = Request({"type": "http", "scheme": "http", "path": "/", **scope})
    origin = request_origin(request)
    assert origin == str(request.base_url).rstrip("/")
    expected = f"{origin}{RESULT}?{urllib.parse.urlencode({'id': 'a b'})}"
    assert polling_url(origin, RESULT, "id", "a b") == expected


# --- Delivery ----------------------------------------------------------------------


def test_verify_query_agrees_with_verify_and_keeps_signers_apart() -> None:
    signer, other = SampleSigner(b"s"), SampleSigner(b"t")
    url = signer.sign("6a87db5603ef4e26aa5af1445d68e079", "png", "image/png", expires_at=1000.0)
    path, _, query = url.partition("?")
    tampered = query.replace("sp=r", "sp=w").replace("se=1970", "se=2099")
    for raw in (query, tampered, query + "&sig=bad", "", "se=&rsct=&sig="):
        parsed = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))
        for now in (999.0, 1000.0):
            assert signer.verify_query(path, raw, now) == signer.verify(path, parsed, now)
    assert signer.verify_query(path, query, 0).access is Access.GRANTED
    assert other.verify_query(path, query, 0).access is Access.BAD_SIGNATURE
