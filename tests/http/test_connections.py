"""Connection limits on a real socket: head size, head timeout, connections at once."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from mockserver.serving.server import MockServer
from mockserver.settings import MockSettings, Timing

HEAD_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
    b'{"detail": "Request Header Fields Too Large"}',
)


@pytest.fixture
def server() -> Iterator[MockServer]:
    settings = MockSettings(
        port=0,
        timing=Timing.POLLS,
        max_header_bytes=1024,
        header_timeout_seconds=0.2,
        max_connections=3,
        max_body_bytes=4096,
    )
    with MockServer(settings) as running:
        yield running


def connect(server: MockServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=30)


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def read_answer(sock: socket.socket) -> bytes:
    """One answer with a Content-Length, the connection left open."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def request(path: str, extra: bytes = b"") -> bytes:
    return f"GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n".encode() + extra + b"\r\n"


def test_a_head_past_the_limit_is_a_431_and_the_connection_closes(server: MockServer) -> None:
    with connect(server) as sock:
        sock.sendall(request("/v1/credits", b"x-big: " + b"a" * 2000 + b"\r\n"))
        answer = read_all(sock)
    assert answer.startswith(HEAD_TOO_LARGE[0]) and answer.endswith(HEAD_TOO_LARGE[1])
    assert b"connection: close\r\n" in answer
    assert server.calls == ()


def test_a_head_trickling_past_the_limit_is_cut_off_with_a_431(server: MockServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /v1/credits HTTP/1.1\r\nx-big: ")  # 34 bytes
        for _ in range(10):  # past 1024 with the last: nothing sent is left unread
            sock.sendall(b"a" * 100)
        answer = read_all(sock)
    assert answer.startswith(HEAD_TOO_LARGE[0]) and answer.endswith(HEAD_TOO_LARGE[1])


def test_a_head_that_never_ends_is_closed_after_the_timeout(server: MockServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /v1/credits HTTP/1.1\r\nx-slow: ")
        assert read_all(sock) == b""


def test_the_next_head_on_a_kept_connection_has_the_same_timeout(server: MockServer) -> None:
    with connect(server) as sock:
        sock.sendall(request("/openapi.json"))
        assert read_answer(sock).startswith(b"HTTP/1.1 200 OK\r\n")
        sock.sendall(b"GET /openapi.json HTTP/1.1\r\nx-slow: ")
        assert read_all(sock) == b""


def test_requests_past_max_connections_are_503s() -> None:
    # Idle connections are held open here: no head timeout may close them meanwhile.
    settings = MockSettings(port=0, max_connections=3, header_timeout_seconds=600)
    with MockServer(settings) as server:
        answer = third_answer(server)
    assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert answer.endswith(b"\r\n\r\nService Unavailable")


def third_answer(server: MockServer) -> bytes:
    """The answer to a third connection while two are held open."""
    held = [connect(server) for _ in range(2)]
    try:
        for sock in held:
            sock.sendall(request("/openapi.json"))
            assert read_answer(sock).startswith(b"HTTP/1.1 200 OK\r\n")
        with connect(server) as third:
            third.sendall(request("/openapi.json"))
            answer = read_all(third)
    finally:
        for sock in held:
            sock.close()
    return answer


def test_a_body_refused_unread_is_no_part_of_the_next_head(server: MockServer) -> None:
    body = b'{"prompt": "' + b"x" * 300_000 + b'"}'
    head = (
        "POST /v1/flux-pro-1.1 HTTP/1.1\r\nhost: 127.0.0.1\r\nx-key: k\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    with connect(server) as sock:
        sock.sendall(head.encode() + body)
        refused = read_answer(sock)
        sock.sendall(request("/openapi.json"))
        after = read_answer(sock)
    assert refused.startswith(b"HTTP/1.1 413 Request Entity Too Large\r\n")
    assert refused.endswith(b'\r\n\r\n{"detail":"Request body too large"}')
    assert after.startswith(b"HTTP/1.1 200 OK\r\n")
